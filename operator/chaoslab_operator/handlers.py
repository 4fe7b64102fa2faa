"""kopf wiring of the OutageScenario operator: thin handlers around the reconciler.

kopf watches OutageScenarios in every namespace, keeps the `chaoslab.io/revert-faults`
finalizer on each, and runs standalone (no peering) without resource scanning, so the
operator needs no RBAC beyond its own resources. Every watch event only asks the
reconciler for a pass (level-triggered: the pass looks at all scenarios, not at the
event); a deletion blocks in `on_delete` until a pass has removed the scenario's faults
from the Corefile, and only then lets kopf drop the finalizer. Start-up connects, checks
the CRD is served and starts the reconcile loop and the HTTP endpoint; clean-up stops them.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from chaoslab_operator.config import OperatorConfig
from chaoslab_operator.kube import ConfigMapMissing, Kube, load_client_configuration
from chaoslab_operator.metrics import HttpServer, Metrics
from chaoslab_operator.prom import Prometheus
from chaoslab_operator.reconciler import Reconciler
from chaoslab_operator.resources import ANNOTATION_PREFIX, GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

registry = kopf.OperatorRegistry()


class State:
    """Everything the handlers share, carried in kopf's memo."""

    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        self.kube = Kube.connect(config.kubeconfig, config.context, config.api_timeout_seconds)
        self.metrics = Metrics()
        prometheus = (
            Prometheus(config.prometheus_url, config.prometheus_timeout_seconds)
            if config.prometheus_url
            else None
        )
        self.reconciler = Reconciler(config, self.kube, self.metrics, prometheus)
        self.http: HttpServer | None = None


def _state(memo: Any) -> State:
    state = memo.get("state") if hasattr(memo, "get") else getattr(memo, "state", None)
    if not isinstance(state, State):
        raise kopf.PermanentError("operator state missing from kopf's memo")
    return state


@kopf.on.login(registry=registry)
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """kopf's own connection: the same kubeconfig/context as the operator's client."""
    cfg = _state(memo).config
    client_cfg = load_client_configuration(cfg.kubeconfig, cfg.context)
    header = client_cfg.get_api_key_with_prefix("BearerToken")
    header = header or client_cfg.get_api_key_with_prefix("authorization")
    scheme, token = None, None
    if header:
        parts = header.split(" ", 1)
        scheme, token = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    return kopf.ConnectionInfo(
        server=client_cfg.host,
        ca_path=client_cfg.ssl_ca_cert,
        insecure=not client_cfg.verify_ssl,
        username=client_cfg.username or None,
        password=client_cfg.password or None,
        scheme=scheme,
        token=token,
        certificate_path=client_cfg.cert_file,
        private_key_path=client_cfg.key_file,
    )


@kopf.on.startup(registry=registry)
def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    state = _state(memo)
    settings.peering.standalone = True
    settings.scanning.disabled = True  # no CRD/namespace watches: no RBAC for them
    settings.persistence.finalizer = state.config.finalizer
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # the reconciler posts the meaningful Events
    settings.watching.server_timeout = 60
    settings.watching.client_timeout = 90
    settings.watching.connect_timeout = state.config.api_timeout_seconds
    settings.networking.request_timeout = state.config.api_timeout_seconds * 3
    settings.networking.connect_timeout = state.config.api_timeout_seconds

    if state.config.http_port >= 0 and state.http is None:
        state.http = HttpServer(
            state.config.http_host, state.config.http_port, state.metrics,
            state.reconciler.healthy, state.reconciler.ready,
        ).start()
        log.info("serving /metrics, /healthz, /readyz on http://%s", state.http.address)
    state.reconciler.start()


@kopf.on.cleanup(registry=registry)
def cleanup(memo: kopf.Memo, **_: Any) -> None:
    state = _state(memo)
    state.reconciler.stop()
    if state.http is not None:
        state.http.stop()


@kopf.on.probe(id="reconciled", registry=registry)
def probe(memo: kopf.Memo, **_: Any) -> str:
    ok, why = _state(memo).reconciler.ready()
    return why if ok else f"not ready: {why}"


@kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
async def on_event(memo: kopf.Memo, **_: Any) -> None:
    """Any change of any scenario (creation, edit, status, deletion): reconcile everything."""
    _state(memo).reconciler.trigger()


@kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
def on_delete(namespace: str, name: str, uid: str, memo: kopf.Memo, **_: Any) -> None:
    """Keep the finalizer until the scenario's faults are out of the Corefile (and, for a
    while, until the session ledger holds its revert)."""
    try:
        _state(memo).reconciler.ensure_reverted(namespace, name, uid)
    except ConfigMapMissing:
        return
    except Exception as exc:
        raise kopf.TemporaryError(f"revert of {namespace}/{name} not done: {exc}", delay=1) from exc
