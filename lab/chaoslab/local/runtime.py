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
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

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

    def resilience_args(self) -> list[str]:
        return ["--policy", str(self.policy)] if self.policy else ["--profile", self.profile]

    def service_config_args(self, service: str) -> list[str]:
        config = self.service_configs.get(service)
        return ["--config", str(config)] if config else []


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
        # Imported here so that `chaoslab --help` stays fast and light.
        from chaoslab_dns.basefiles import local_corefile
        from chaoslab_services import catalog

        opts = self.options
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

        self.progress("control plane: etcd + kube-apiserver")
        cp_dir = self.root / "controlplane"
        shutil.rmtree(cp_dir, ignore_errors=True)
        self.cp = controlplane.ControlPlane(workdir=cp_dir, keep=True)
        self.cp.start(opts.timeout)
        self.procs.extend(self.cp.procs)
        kubeconfig = self.root / "kubeconfig"
        shutil.copy(self.cp.kubeconfig, kubeconfig)
        self.progress(f"control plane ready in {self.cp.started_seconds:.1f}s")

        self.progress("installing the OutageScenario CRD")
        self.cp.kubectl("apply", "-f", str(CRD_FILE))
        self.cp.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                        "crd/outagescenarios.chaoslab.io")
        # Established is not enough: the new resource's watch cache answers 429 "storage is
        # (re)initializing" for a moment, which kopf logs as an ERROR on its first watch.
        wait_until("the OutageScenario watch cache", lambda: self.cp.kubectl(
            "get", "--raw", f"{SCENARIOS_PATH}?watch=1&timeoutSeconds=1",
            check=False, timeout=10).returncode == 0, 60, self.cp.procs, interval=0.2)

        endpoints = [e for e in catalog.ENDPOINTS if e.region in opts.regions]
        grpc_ports = {e.key: free_port() for e in endpoints}
        endpoints_file = self.root / "endpoints.yaml"
        catalog.write_endpoints(endpoints_file, grpc_ports)

        dns_port, dns_metrics = free_port(), free_port()
        corefile = local_corefile(dns_port, dns_metrics, {e.fqdn: "127.0.0.1" for e in endpoints})
        coredns_dir = self.root / "coredns"
        coredns_dir.mkdir(exist_ok=True)
        corefile_path = coredns_dir / "Corefile"
        corefile_path.write_text(corefile)
        self.cp.kubectl("create", "configmap", "coredns", "-n", "kube-system",
                        f"--from-file=Corefile={corefile_path}")

        self.progress(f"CoreDNS on 127.0.0.1:{dns_port} (aws.internal)")
        coredns = self._spawn("coredns", [tool("coredns"), "-conf", corefile_path,
                                          "-dns.port", str(dns_port)], cwd=coredns_dir)
        wait_until(f"CoreDNS answering {PROBE_NAME}",
                   lambda: dns_answers(dns_port, PROBE_NAME), opts.timeout, [coredns])

        projector_http = free_port()
        self._spawn("projector", [
            self._python(), "-m", "chaoslab.projector", "--kubeconfig", kubeconfig,
            "--configmap", "kube-system/coredns", "--key", "Corefile", "--out", corefile_path,
            "--signal-pid", str(coredns.pid), "--http", f"127.0.0.1:{projector_http}"])

        self.progress(f"{len(endpoints)} services ({', '.join(opts.regions)}), "
                      + (f"policy {opts.policy}" if opts.policy else f"profile {opts.profile}"))
        service_http: dict[str, int] = {}
        service_procs = []
        processes = [e for e in endpoints if not getattr(e, "alias_of", None)]
        processes = [e for i, e in enumerate(processes)
                     if e.key not in {p.key for p in processes[:i]}]
        # Each process sends its DNS queries from its own loopback address and has a Pod
        # with its chart labels and that address, so client-scoped faults select it.
        lab_pods = service_pods([(e.service, e.region) for e in processes])
        source = {e.key: p.ip for e, p in zip(processes, lab_pods, strict=True)}
        for p in lab_pods:
            register(self.cp.kubectl, p.name, p.labels, p.ip)
        for e in processes:
            service_http[e.key] = free_port()
            service_procs.append(self._spawn(f"service-{e.key}", [
                self._python(), "-m", "chaoslab_services", "serve", "--service", e.service,
                "--region", e.region, "--listen", f"127.0.0.1:{grpc_ports[e.key]}",
                "--http", f"127.0.0.1:{service_http[e.key]}", "--dns", f"127.0.0.1:{dns_port}",
                "--dns-source", source[e.key], "--endpoints", endpoints_file,
                *opts.resilience_args(),
                *opts.service_config_args(e.service), "--allowed-networks", "127.0.0.0/8"]))
        for key, port in service_http.items():
            wait_until(f"{key} /readyz", lambda p=port: http_ok(p, "/readyz"), opts.timeout,
                       service_procs)

        self.progress("seeding the lab's users, tables, functions and alarms")
        self._run_once("bootstrap", [self._python(), "-m", "chaoslab_services", "bootstrap",
                                     "--endpoints", endpoints_file,
                                     "--dns", f"127.0.0.1:{dns_port}"])

        self.progress("operator")
        operator_http = free_port()
        prometheus_port = free_port()
        operator = self._spawn("operator", [
            *self._chaoslab(), "operator", "run", "--kubeconfig", kubeconfig,
            "--coredns-configmap", "kube-system/coredns",
            "--prometheus", f"http://127.0.0.1:{prometheus_port}",
            "--http", f"127.0.0.1:{operator_http}"])
        wait_until("operator /healthz", lambda: http_ok(operator_http, "/healthz"),
                   opts.timeout, [operator])

        locust_web, locust_metrics = free_port(), free_port()
        targets = {f"service-{k}": f"127.0.0.1:{p}" for k, p in service_http.items()}
        labels = {f"service-{k}": {"endpoint": k} for k in service_http}
        targets.update({
            "coredns": f"127.0.0.1:{dns_metrics}",
            "operator": f"127.0.0.1:{operator_http}",
            "locust": f"127.0.0.1:{locust_metrics}",
            "prometheus": f"127.0.0.1:{prometheus_port}",
        })
        prom_dir = self.root / "prometheus"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir()
        (prom_dir / "prometheus.yml").write_text(
            prometheus_config.scrape_config(targets, labels, opts.scrape_interval))
        self.progress(f"Prometheus on 127.0.0.1:{prometheus_port}, scraping every "
                      f"{opts.scrape_interval}")
        prometheus = self._spawn("prometheus", [
            tool("prometheus"), f"--config.file={prom_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={prom_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--storage.tsdb.retention.time=1d", "--web.enable-lifecycle"])
        wait_until("Prometheus /-/ready", lambda: http_ok(prometheus_port, "/-/ready"),
                   opts.timeout, [prometheus])

        state = LabState(
            kubeconfig=str(kubeconfig),
            dns=f"127.0.0.1:{dns_port}",
            prometheus=f"http://127.0.0.1:{prometheus_port}",
            locust=f"http://127.0.0.1:{locust_web}",
            services={k: f"127.0.0.1:{p}" for k, p in grpc_ports.items()},
            http={**{f"service-{k}": f"127.0.0.1:{p}" for k, p in service_http.items()},
                  "operator": f"127.0.0.1:{operator_http}",
                  "coredns": f"127.0.0.1:{dns_metrics}",
                  "projector": f"127.0.0.1:{projector_http}",
                  "locust-metrics": f"127.0.0.1:{locust_metrics}"},
            logs=str(self.logs),
            workdir=str(self.root),
            profile=opts.profile,
            started_at=started_at,
        )
        self.state = state
        self._record()  # Locust reads the state file for its targets

        if opts.load:
            from chaoslab_loadtest.runner import locust_command

            self.progress(f"Locust: {opts.users} customers, web UI on 127.0.0.1:{locust_web}")
            argv, env = locust_command(
                state_file=self.state_file, users=opts.users, spawn_rate=opts.spawn_rate,
                web_port=locust_web, metrics_port=locust_metrics, headless=False,
                region=opts.customer_regions, config=opts.load_config)
            locust = self._spawn("locust", argv, env=env)
            wait_until("Locust web UI", lambda: http_ok(locust_web, "/"), opts.timeout, [locust])
        self._record()
        return state

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
    for name in ("controlplane", "prometheus", "coredns"):
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


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0
