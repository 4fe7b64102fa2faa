"""The local lab: every component of the kind deployment, as processes on loopback.

`LocalLab.up()` starts, in dependency order, a real etcd + kube-apiserver, the CRD, the
`kube-system/coredns` ConfigMap built from the lab's base Corefile, CoreDNS serving the
Corefile that a projector copies out of that ConfigMap (what the kubelet does in a
cluster, but with an immediate SIGUSR1 reload), every gRPC service of both regions (each
resolving from its own 127.0.0.X, with a Pod object carrying its chart labels and that
address, so client-scoped faults select it: `local/pods.py`), the
operator, Prometheus scraping all of them every second, and Locust. Each process runs in
its own session with its log in `.lab/logs/`; if any step fails, everything started so
far is stopped and the error names the log to read. `down()` stops a lab recorded in
`.lab/state.json`, from this or any other process, and removes its data.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dns.message
import dns.query
import dns.rdatatype

from chaoslab import controlplane
from chaoslab.local import prometheus_config
from chaoslab.local.pods import register, service_pods
from chaoslab.local.state import LabState
from chaoslab.procs import (
    ComponentFailed,
    Proc,
    free_port,
    pid_alive,
    processes_mentioning,
    spawn,
    stop_pid,
    wait_until,
)
from chaoslab.toolpaths import REPO_ROOT, tool

if TYPE_CHECKING:
    from chaoslab_services.catalog import CatalogEntry

SCENARIOS_PATH = "/apis/chaoslab.io/v1alpha1/outagescenarios"
CRD_FILE = REPO_ROOT / "charts" / "chaoslab" / "crds" / "outagescenarios.yaml"
PROBE_NAME = "dynamodb.us-east-1.aws.internal"

Progress = Callable[[str], None]


def _print_progress(message: str) -> None:
    print(f"==> {message}", flush=True)


def profile_or_policy(text: str) -> tuple[str, Path | None]:
    """(profile, policy file) for a `--profile` value: a named profile, or a policy YAML file
    (then the services get `--policy FILE`). Raises ValueError listing what is accepted."""
    from chaoslab_services.common.config import available_profiles

    text = text.strip()
    if text in available_profiles():
        return text, None
    path = Path(text)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return "backoff-jitter", path.resolve()
    raise ValueError(f"unknown profile {text!r}: use one of {', '.join(available_profiles())}"
                     " or a policy file (YAML)")


@dataclass
class LabOptions:
    lab_dir: Path = Path(".lab")
    profile: str = "backoff-jitter"  # client resilience profile of every service
    users: int = 20  # Locust customers
    spawn_rate: float = 10.0
    load: bool = True  # start Locust generating load
    customer_regions: str = "us-east-1"  # where Locust's customers live ("a,b" for both)
    regions: tuple[str, ...] = ("us-east-1", "us-west-2")
    scrape_interval: str = "1s"
    timeout: float = 90.0  # per component, to become healthy
    # Overrides an experiment needs (a tier's capacity, the customers' SDK behaviour):
    policy: Path | None = None  # a resilience policy file replacing `profile`
    service_configs: Mapping[str, Path] = field(default_factory=dict)  # service -> --config
    load_config: Path | None = None  # Locust's --chaoslab-config document
    # chaoslab.local.tuning name: stock | storm (custom: an experiment's own). A named one
    # is applied at `up` unless the overrides above are given already (an experiment's).
    tuning: str = "stock"
    # Locust's --workflow-weights over config.yaml's mix, e.g. "launch=1" (EC2 launches).
    workflow_weights: str | None = None


@dataclass(frozen=True)
class _CoreDNS:
    """The lab's running CoreDNS: what the projector, the services and Prometheus need."""

    proc: Proc
    port: int  # DNS, UDP and TCP
    metrics_port: int
    corefile: Path  # the file it serves, the projector's copy of the ConfigMap


@dataclass
class LocalLab:
    options: LabOptions = field(default_factory=LabOptions)
    progress: Progress = _print_progress
    procs: list[Proc] = field(default_factory=list)
    cp: controlplane.ControlPlane | None = None
    state: LabState | None = None

    # -- paths -----------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.options.lab_dir.resolve()

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def _python(self) -> str:
        return sys.executable

    def _chaoslab(self) -> list[str]:
        return [self._python(), "-m", "chaoslab.cli"]

    # -- up ----------------------------------------------------------------------------
    def up(self, attempts: int = 3) -> LabState:
        """Start everything; return once every component is healthy.

        Starts again from scratch if a port picked as free was bound by someone else before
        the component bound it; any other failure is final.
        """
        refuse_if_running(self.state_file)
        for name in ("coredns", "etcd", "kube-apiserver", "kubectl", "prometheus"):
            tool(name)  # fails early with "run `make tools`"
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self._apply_tuning()
        for attempt in range(1, attempts + 1):
            try:
                return self._up()
            except BaseException as exc:
                self.progress("start-up failed; stopping what was started")
                self.stop()
                if not (_port_taken(exc) and attempt < attempts):
                    raise
                self.progress(f"a port was taken meanwhile ({_port_taken(exc)}); starting again")
                self.state, self.cp = None, None
        raise AssertionError("unreachable")

    def _up(self) -> LabState:
        """One start-up attempt: a step per component, in dependency order."""
        # Imported here so that `chaoslab --help` stays fast and light.
        from chaoslab_services import catalog

        opts = self.options
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        kubeconfig = self._control_plane()
        self._crd()
        self._lab_settings()
        endpoints = [e for e in catalog.ENDPOINTS if e.region in opts.regions]
        grpc_ports = {e.key: free_port() for e in endpoints}
        endpoints_file = catalog.write_endpoints(self.root / "endpoints.yaml", grpc_ports)
        coredns = self._coredns(endpoints)
        projector_http = self._projector(kubeconfig, coredns)
        service_http = self._services(grpc_ports, endpoints_file, coredns.port)
        self._bootstrap(endpoints_file, coredns.port)
        operator_http, prometheus_port = free_port(), free_port()
        self._operator(kubeconfig, operator_http, prometheus_port)
        locust_web, locust_metrics = free_port(), free_port()
        targets = {f"service-{k}": f"127.0.0.1:{p}" for k, p in service_http.items()}
        targets.update({
            "coredns": f"127.0.0.1:{coredns.metrics_port}",
            "operator": f"127.0.0.1:{operator_http}",
            "locust": f"127.0.0.1:{locust_metrics}",
            "prometheus": f"127.0.0.1:{prometheus_port}",
        })
        self._prometheus(prometheus_port, targets,
                         {f"service-{k}": {"endpoint": k} for k in service_http})

        state = LabState(
            kubeconfig=str(kubeconfig),
            dns=f"127.0.0.1:{coredns.port}",
            prometheus=f"http://127.0.0.1:{prometheus_port}",
            locust=f"http://127.0.0.1:{locust_web}",
            services={k: f"127.0.0.1:{p}" for k, p in grpc_ports.items()},
            http={**{f"service-{k}": f"127.0.0.1:{p}" for k, p in service_http.items()},
                  "operator": f"127.0.0.1:{operator_http}",
                  "coredns": f"127.0.0.1:{coredns.metrics_port}",
                  "projector": f"127.0.0.1:{projector_http}",
                  "locust-metrics": f"127.0.0.1:{locust_metrics}"},
            logs=str(self.logs),
            workdir=str(self.root),
            profile=opts.profile,
            tuning=opts.tuning,
            customer_regions=opts.customer_regions,
            started_at=started_at,
        )
        self.state = state
        self._record()  # Locust reads the state file for its targets
        if opts.load:
            self._locust(locust_web, locust_metrics)
        self._record()
        return state

    def _apply_tuning(self) -> None:
        """The named tuning's override files, in the lab directory (removed by `down`)."""
        from chaoslab.local.tuning import LabTuning

        opts = self.options
        if opts.service_configs or opts.load_config:
            return  # the caller's own overrides (an experiment's): the name only labels them
        tuning = LabTuning.named(opts.tuning)
        if tuning.services or tuning.load:
            self.options = tuning.apply(opts, self.root / "tuning")
            self.progress(f"tuning {opts.tuning}: overrides for "
                          + ", ".join([*tuning.services, *(["customers"] if tuning.load else [])]))

    # -- one step a component (each waits until its component is healthy) --------------
    def _control_plane(self) -> Path:
        """etcd + kube-apiserver; returns the lab's kubeconfig."""
        self.progress("control plane: etcd + kube-apiserver")
        cp_dir = self.root / "controlplane"
        shutil.rmtree(cp_dir, ignore_errors=True)
        self.cp = controlplane.ControlPlane(workdir=cp_dir, keep=True)
        self.cp.start(self.options.timeout)
        self.procs.extend(self.cp.procs)
        kubeconfig = self.root / "kubeconfig"
        shutil.copy(self.cp.kubeconfig, kubeconfig)
        self.progress(f"control plane ready in {self.cp.started_seconds:.1f}s")
        return kubeconfig

    def _crd(self) -> None:
        self.progress("installing the OutageScenario CRD")
        cp = self._control()
        cp.kubectl("apply", "-f", str(CRD_FILE))
        cp.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                   "crd/outagescenarios.chaoslab.io")
        # Established is not enough: the new resource's watch cache answers 429 "storage is
        # (re)initializing" for a moment, which kopf logs as an ERROR on its first watch.
        wait_until("the OutageScenario watch cache", lambda: cp.kubectl(
            "get", "--raw", f"{SCENARIOS_PATH}?watch=1&timeoutSeconds=1",
            check=False, timeout=10).returncode == 0, 60, cp.procs, interval=0.2)

    def _lab_settings(self) -> None:
        """What a scenario may ask of this lab, checked at `kubectl apply` (labsettings)."""
        from chaoslab.local import labsettings

        opts = self.options
        self.progress(f"lab settings: tuning {opts.tuning}, customers in {opts.customer_regions}")
        labsettings.install(self._control().kubectl, opts.customer_regions, opts.tuning)

    def _coredns(self, endpoints: Sequence[CatalogEntry]) -> _CoreDNS:
        """The `kube-system/coredns` ConfigMap from the lab's base Corefile, and CoreDNS
        serving a copy of it (every `*.aws.internal` name answers 127.0.0.1)."""
        from chaoslab_dns.basefiles import local_corefile

        port, metrics_port = free_port(), free_port()
        coredns_dir = self.root / "coredns"
        coredns_dir.mkdir(exist_ok=True)
        corefile = coredns_dir / "Corefile"
        corefile.write_text(local_corefile(port, metrics_port,
                                           {e.fqdn: "127.0.0.1" for e in endpoints}))
        self._control().kubectl("create", "configmap", "coredns", "-n", "kube-system",
                                f"--from-file=Corefile={corefile}")
        self.progress(f"CoreDNS on 127.0.0.1:{port} (aws.internal)")
        proc = self._spawn("coredns", [tool("coredns"), "-conf", corefile,
                                       "-dns.port", str(port)], cwd=coredns_dir)
        wait_until(f"CoreDNS answering {PROBE_NAME}",
                   lambda: dns_answers(port, PROBE_NAME), self.options.timeout, [proc])
        return _CoreDNS(proc, port, metrics_port, corefile)

    def _projector(self, kubeconfig: Path, coredns: _CoreDNS) -> int:
        """What the kubelet does in a cluster: copy the ConfigMap into CoreDNS's Corefile,
        then reload it at once (SIGUSR1). Returns its HTTP port."""
        http = free_port()
        self._spawn("projector", [
            self._python(), "-m", "chaoslab.local.projector", "--kubeconfig", kubeconfig,
            "--configmap", "kube-system/coredns", "--key", "Corefile", "--out", coredns.corefile,
            "--signal-pid", str(coredns.proc.pid), "--http", f"127.0.0.1:{http}"])
        return http

    def _services(self, grpc_ports: Mapping[str, int], endpoints_file: Path,
                  dns_port: int) -> dict[str, int]:
        """One process per endpoint of the lab's regions (sts is IAM's); endpoint key ->
        its HTTP port."""
        from chaoslab_services import catalog

        opts = self.options
        self.progress(f"{len(grpc_ports)} services ({', '.join(opts.regions)}), "
                      + (f"policy {opts.policy}" if opts.policy else f"profile {opts.profile}"))
        processes = [e for e in catalog.PROCESSES if e.region in opts.regions]
        # Each process sends its DNS queries from its own loopback address and has a Pod
        # with its chart labels and that address, so client-scoped faults select it.
        lab_pods = service_pods([(e.service, e.region) for e in processes])
        for p in lab_pods:
            register(self._control().kubectl, p.name, p.labels, p.ip)
        http: dict[str, int] = {}
        procs = []
        for e, pod in zip(processes, lab_pods, strict=True):
            http[e.key] = free_port()
            argv = catalog.serve_command(
                e.key, endpoints=endpoints_file, dns=f"127.0.0.1:{dns_port}",
                listen=f"127.0.0.1:{grpc_ports[e.key]}", http=f"127.0.0.1:{http[e.key]}",
                profile=None if opts.policy else opts.profile, policy=opts.policy,
                config=opts.service_configs.get(e.service), allowed_networks="127.0.0.0/8",
                dns_source=pod.ip, python=self._python())
            procs.append(self._spawn(f"service-{e.key}", argv))
        for key, port in http.items():
            wait_until(f"{key} /readyz", lambda p=port: http_ok(p, "/readyz"), opts.timeout,
                       procs)
        return http

    def _bootstrap(self, endpoints_file: Path, dns_port: int) -> None:
        self.progress("seeding the lab's users, tables, functions and alarms")
        self._run_once("bootstrap", [self._python(), "-m", "chaoslab_services", "bootstrap",
                                     "--endpoints", endpoints_file,
                                     "--dns", f"127.0.0.1:{dns_port}"])

    def _operator(self, kubeconfig: Path, http: int, prometheus_port: int) -> None:
        """The operator, writing `kube-system/coredns`, its health on port `http`."""
        self.progress("operator")
        operator = self._spawn("operator", [
            *self._chaoslab(), "operator", "run", "--kubeconfig", kubeconfig,
            "--coredns-configmap", "kube-system/coredns",
            "--prometheus", f"http://127.0.0.1:{prometheus_port}",
            "--http", f"127.0.0.1:{http}"])
        wait_until("operator /healthz", lambda: http_ok(http, "/healthz"),
                   self.options.timeout, [operator])

    def _prometheus(self, port: int, targets: Mapping[str, str],
                    labels: Mapping[str, Mapping[str, str]]) -> None:
        """Prometheus scraping every target (job -> host:port) each scrape interval."""
        interval = self.options.scrape_interval
        prom_dir = self.root / "prometheus"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir()
        (prom_dir / "prometheus.yml").write_text(
            prometheus_config.scrape_config(targets, labels, interval))
        self.progress(f"Prometheus on 127.0.0.1:{port}, scraping every {interval}")
        prometheus = self._spawn("prometheus", [
            tool("prometheus"), f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d", "--web.enable-lifecycle"])
        wait_until("Prometheus /-/ready", lambda: http_ok(port, "/-/ready"),
                   self.options.timeout, [prometheus])

    def _locust(self, web_port: int, metrics_port: int) -> None:
        """Locust's customers, reading their targets from state.json."""
        from chaoslab_loadtest.runner import locust_command

        opts = self.options
        self.progress(f"Locust: {opts.users} customers, web UI on 127.0.0.1:{web_port}")
        argv, env = locust_command(
            state_file=self.state_file, users=opts.users, spawn_rate=opts.spawn_rate,
            web_port=web_port, metrics_port=metrics_port, headless=False,
            region=opts.customer_regions, config=opts.load_config,
            workflow_weights=opts.workflow_weights)
        locust = self._spawn("locust", argv, env=env)
        wait_until("Locust web UI", lambda: http_ok(web_port, "/"), opts.timeout, [locust])

    def _control(self) -> controlplane.ControlPlane:
        if self.cp is None:
            raise AssertionError("the control plane step runs first")
        return self.cp

    def _spawn(self, name: str, argv: list, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> Proc:
        proc = spawn(name, argv, self.logs / f"{name}.log", env=env, cwd=cwd, into=self.procs)
        self._record()
        return proc

    def _run_once(self, name: str, argv: list, timeout: float = 120) -> None:
        proc = spawn(name, argv, self.logs / f"{name}.log", into=self.procs)
        try:
            code = proc.popen.wait(timeout=timeout)
        except BaseException as exc:
            proc.stop()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise ComponentFailed(
                    f"{name} did not finish in {timeout:.0f}s; see {proc.log}") from exc
            raise
        finally:
            self.procs.remove(proc)
        if code != 0:
            raise ComponentFailed(f"{name} failed with exit code {code}; see {proc.log}")

    def _record(self) -> None:
        """Keep state.json's pid list current, so `down` can clean up even a half-started lab."""
        state = self.state or LabState(kubeconfig="", dns="", prometheus="", locust="",
                                       services={}, logs=str(self.logs), workdir=str(self.root))
        state.pids = {p.name: p.pid for p in self.procs}
        state.save(self.state_file)

    # -- down ---------------------------------------------------------------------------
    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if self.cp:  # interrupted mid-start, its processes are not in self.procs yet
            self.cp.stop()
        _remove_runtime_files(self.root)


def _port_taken(exc: BaseException) -> str:
    """The log line saying a component could not bind its port, or ""."""
    if not isinstance(exc, ComponentFailed):
        return ""
    return next((line.strip() for line in str(exc).splitlines()
                 if "address already in use" in line.lower()), "")


def _remove_runtime_files(root: Path) -> None:
    """Remove everything but the logs, which stay for the post-mortem."""
    for name in ("controlplane", "prometheus", "coredns", "tuning"):
        shutil.rmtree(root / name, ignore_errors=True)
    for name in ("state.json", "state.tmp", "kubeconfig", "endpoints.yaml"):
        (root / name).unlink(missing_ok=True)


def refuse_if_running(state_file: Path) -> None:
    if not state_file.exists():
        return
    try:
        pids = json.loads(state_file.read_text()).get("pids", {})
    except (OSError, ValueError):
        pids = {}
    if any(pid_alive(int(pid)) for pid in pids.values()):
        raise ComponentFailed(
            f"a lab is already running (see {state_file}); stop it with `chaoslab down` "
            "(make down LAB=local)")
    _remove_runtime_files(state_file.parent)  # stale state from a lab that died


def down(lab_dir: Path, progress: Progress = _print_progress) -> bool:
    """Stop the lab recorded in `lab_dir`; False if there was none."""
    root = lab_dir.resolve()
    state_file = root / "state.json"
    if not state_file.exists():
        return False
    state = LabState.load(state_file)
    ours = {pid for pid, _ in processes_mentioning(root)}
    for name, pid in reversed(list(state.pids.items())):
        if not pid_alive(pid):
            continue
        if pid not in ours:
            # The lab died earlier (a reboot, kill -9) and the pid now belongs to someone else.
            progress(f"{name}: pid {pid} is no longer the lab's; left alone")
            continue
        progress(f"stopping {name} (pid {pid})")
        stop_pid(pid)
    strays = processes_mentioning(root)
    for pid, cmdline in strays:
        progress(f"still running and naming {root}: pid {pid}: {cmdline[:120]}")
    if strays:
        progress("stop those with `kill PID` if they are left from the lab")
    _remove_runtime_files(root)
    return True


# -- probes ---------------------------------------------------------------------------------
def http_ok(port: int, path: str, host: str = "127.0.0.1", timeout: float = 2.0) -> bool:
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as resp:
        return 200 <= resp.status < 300


def dns_answers(port: int, name: str, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    query = dns.message.make_query(name, dns.rdatatype.A)
    reply = dns.query.udp(query, host, port=port, timeout=timeout)
    return bool(reply.answer)

