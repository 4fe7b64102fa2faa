"""The operator's settings: one typed object, loaded once at start-up from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaoslab_operator.admission import DEFAULT_ALLOWED_NETWORKS
from chaoslab_operator.plan import STOP_CONDITION_GRACE
from chaoslab_operator.resources import FINALIZER


@dataclass(frozen=True)
class OperatorConfig:
    # Kubeconfig file to use; None: the in-cluster service account, else $KUBECONFIG or
    # ~/.kube/config.
    kubeconfig: Path | None = None
    # Context inside the kubeconfig; None: its current-context.
    context: str | None = None
    # The ConfigMap holding the cluster DNS's Corefile, and the key of the Corefile in it.
    coredns_namespace: str = "kube-system"
    coredns_name: str = "coredns"
    corefile_key: str = "Corefile"
    # Prometheus base URL for stop conditions (instant queries on /api/v1/query); None:
    # stop conditions cannot be evaluated (PrometheusUnreachable).
    prometheus_url: str | None = None
    # Where /metrics, /healthz and /readyz are served; port 0 picks a free port.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # A full reconcile runs at least this often, even without any event (catches hand
    # edits of the ConfigMap when the watch is down, clock-driven transitions are exact anyway).
    resync_seconds: float = 30.0
    # How often stop conditions are queried while a scenario that has them is active.
    stop_check_seconds: float = 2.0
    # How long a stop condition may be unevaluable before its scenario fails or is aborted
    # (scenarios with spec.onError: continue only report it).
    stop_grace_seconds: float = STOP_CONDITION_GRACE
    # Networks the lab's services may dial (their --allowed-networks): a redirectTo outside
    # them is refused before injection, naming them.
    allowed_networks: tuple[str, ...] = DEFAULT_ALLOWED_NETWORKS
    # Timeout of every Kubernetes API call (connect and read), and of Prometheus queries.
    api_timeout_seconds: float = 10.0
    prometheus_timeout_seconds: float = 3.0
    # Watch the ConfigMap too, so a hand edit that drops or adds faults is undone at once.
    watch_configmap: bool = True
    # The session ledger ConfigMap (see ledger.py); None: `<coredns_namespace>/chaoslab-ledger`.
    ledger_namespace: str | None = None
    ledger_name: str = "chaoslab-ledger"
    # Where the pods of client-scoped faults (spec.faults[].clients namespaces/podSelector)
    # are listed and watched: () is cluster-wide (needs a ClusterRole for pods), else only
    # these namespaces (a Role in each suffices; pods elsewhere are never selected).
    client_namespaces: tuple[str, ...] = ()
    # After a pod event, wait this long for more before re-rendering (a rollout's burst of
    # pod changes becomes one Corefile write).
    pod_debounce_seconds: float = 0.2
    # How long one minute of spec.schedule's cron lasts: 60 is the real clock; tests and
    # demos shorten it (15: "* * * * *" ticks every 15 s). Only the schedules use it.
    schedule_minute_seconds: float = 60.0
    # The finalizer put on every scenario (kopf's persistence setting).
    finalizer: str = FINALIZER

    @property
    def configmap_ref(self) -> str:
        return f"{self.coredns_namespace}/{self.coredns_name}"

    @property
    def ledger_ref(self) -> tuple[str, str]:
        return (self.ledger_namespace or self.coredns_namespace, self.ledger_name)


def parse_configmap_ref(text: str) -> tuple[str, str]:
    """"kube-system/coredns" -> ("kube-system", "coredns"); a bare name means kube-system."""
    namespace, sep, name = text.partition("/")
    if not sep:
        namespace, name = "kube-system", namespace
    if not namespace or not name or "/" in name:
        raise ValueError(f"invalid ConfigMap reference {text!r}: want NAMESPACE/NAME")
    return namespace, name


def parse_listen(text: str) -> tuple[str, int]:
    """"127.0.0.1:8080" -> ("127.0.0.1", 8080); ":8080" listens on every interface."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {text!r}: want HOST:PORT")
    return host or "0.0.0.0", int(port)
