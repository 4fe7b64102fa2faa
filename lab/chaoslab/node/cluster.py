"""Start and stop the node lab: a real single-node cluster, then the kind path on it.

`NodeLab.up()` checks the host (root, every binary, naming what installs a missing one),
records the host's state (hostnet.Ledger), then starts in order: the bridge and the
host-safety rule, the PKI, etcd + kube-apiserver, the controller manager and scheduler,
containerd (importing the lab's images), the kubelet, kube-proxy; then creates what kind's
kubeadm would (kube-system's CoreDNS with kind's Corefile) and runs
`charts/lab-install.sh`, the same script `charts/kind-up.sh` runs. It writes
`.lab/state.json` (`"lab": "node"`) before the first process starts and after each, so
`down()` can stop even a half-started node. `down()` uninstalls the lab the kind way
(`charts/lab-uninstall.sh`), removes the pods so the CNI tears down their network, stops
every process by its PID, then unmounts and undoes the ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import yaml

from chaoslab import controlplane
from chaoslab.controlplane import pki
from chaoslab.local.runtime import http_ok
from chaoslab.local.state import LabState
from chaoslab.node import configs, hostnet, layout
from chaoslab.node.layout import NodePaths
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
from chaoslab.toolpaths import REPO_ROOT, ToolMissing, tool

Progress = Callable[[str], None]
KUBE_DNS = Path(__file__).with_name("kube-dns.yaml")
KIND_DEFAULT_COREFILE = REPO_ROOT / "charts/chaoslab/files/coredns/Corefile.kind-default"
KIND_CONFIG = REPO_ROOT / "kind-config.yaml"
NODE_VALUES = REPO_ROOT / "charts/chaoslab/values-node.yaml"
IMAGES_SCRIPT = REPO_ROOT / "charts/node-images.sh"
INSTALL_SCRIPT = REPO_ROOT / "charts/lab-install.sh"
UNINSTALL_SCRIPT = REPO_ROOT / "charts/lab-uninstall.sh"
IMAGES = ("pause", "coredns", "prometheus", "lab")
NAMESPACE = "chaoslab"

# Pinned builds (`make node-tools`), and Debian's programs with the package that has each.
NODE_TOOLS = ("etcd", "kube-apiserver", "kubectl", "helm", "coredns", "prometheus",
              "kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager", "pause")
SYSTEM_PROGRAMS = {
    "containerd": "containerd", "ctr": "containerd", "runc": "runc",
    "/usr/lib/cni/bridge": "containernetworking-plugins",
    "/usr/lib/cni/host-local": "containernetworking-plugins",
    "/usr/lib/cni/loopback": "containernetworking-plugins",
    "iptables": "iptables", "iptables-save": "iptables", "ip": "iproute2",
    "buildah": "buildah", "mmdebstrap": "mmdebstrap", "setcap": "libcap2-bin",
}


def _print(message: str) -> None:
    print(f"==> [node] {message}", flush=True)


def timed(progress: Progress) -> Progress:
    """`progress` with the seconds since this call in front: where a long step's time goes."""
    t0 = time.monotonic()
    return lambda message: progress(f"[{time.monotonic() - t0:5.1f}s] {message}")


def missing_pieces() -> list[str]:
    """What the node lab cannot start without, each with the command that installs it."""
    missing = []
    for name in NODE_TOOLS:
        try:
            tool(name)
        except ToolMissing:
            missing.append(f"{name}: run `make node-tools` (builds it into .tools/bin)")
    for program, package in SYSTEM_PROGRAMS.items():
        found = os.access(program, os.X_OK) if program.startswith("/") else shutil.which(program)
        if not found:
            missing.append(f"{program}: run `make node-tools` or `apt-get install {package}`")
    return missing


@dataclass
class NodeOptions:
    lab_dir: Path = Path(".lab")
    values: Sequence[Path] = ()  # extra chart values, after values-node.yaml
    timeout: float = 180.0  # per component, to become ready
    install_timeout: int = 600  # charts/lab-install.sh's wait for the lab


@dataclass
class NodeLab:
    options: NodeOptions = field(default_factory=NodeOptions)
    progress: Progress = _print
    procs: list[Proc] = field(default_factory=list)
    cp: controlplane.ControlPlane | None = None

    @property
    def paths(self) -> NodePaths:
        return NodePaths(self.options.lab_dir.resolve())

    # -- up ----------------------------------------------------------------------------
    def up(self) -> LabState:
        hostnet.require_root()
        missing = missing_pieces()
        if missing:
            raise ToolMissing("the node lab cannot start; missing:\n  " + "\n  ".join(missing))
        paths = self.paths
        refuse_if_running(paths)
        plain = self.progress
        self.progress = timed(plain)
        try:
            state = self._up(paths)
        except BaseException:
            self.progress("start-up failed; stopping what was started "
                          f"(logs stay in {paths.logs})")
            down(self.options.lab_dir, plain)
            raise
        finally:
            self.progress = plain
        self.progress("node lab ready: every pod is Ready")
        return state

    def _up(self, paths: NodePaths) -> LabState:
        paths.state_file.unlink(missing_ok=True)  # a dead lab's, refuse_if_running checked
        shutil.rmtree(paths.root, ignore_errors=True)
        paths.root.mkdir(parents=True)
        paths.logs.mkdir(parents=True, exist_ok=True)
        paths.run_dir.mkdir(parents=True, exist_ok=True)
        self._record()
        ledger = hostnet.Ledger.snapshot(paths.ledger)
        hostnet.prepare(ledger, self.progress)

        self.progress("images: building what changed (charts/node-images.sh)")
        _stream([str(IMAGES_SCRIPT)], self.progress, timeout=1800)

        self.progress("certificates")
        ca = self._pki(paths)
        self.progress("control plane: etcd + kube-apiserver")
        self.cp = controlplane.ControlPlane(
            workdir=paths.root, keep=True, bind_address=layout.NODE_IP,
            apiserver_overrides=configs.apiserver_overrides(paths), authority=ca)
        self.cp.start(self.options.timeout)
        self.procs.extend(self.cp.procs)
        self._record()
        shutil.copy(self.cp.kubeconfig, paths.kubeconfig)
        self._kubeconfigs(paths)

        self.progress("controller manager, scheduler")
        self._spawn("kube-controller-manager", configs.controller_manager_args(
            paths, str(tool("kube-controller-manager")), free_port()))
        self._spawn("kube-scheduler", configs.scheduler_args(
            paths, str(tool("kube-scheduler")), free_port()))

        self.progress("containerd, with the lab's images")
        (paths.root / "containerd.toml").write_text(configs.containerd_config(paths))
        paths.cni_conf_dir.mkdir()
        (paths.cni_conf_dir / "10-chaoslab.conflist").write_text(
            json.dumps(configs.cni_conflist(paths), indent=2))
        containerd = self._spawn("containerd", [
            "containerd", "--config", str(paths.root / "containerd.toml")])
        wait_until("containerd's socket", lambda: self._ctr("version").returncode == 0,
                   self.options.timeout, [containerd], interval=0.3)
        self._import_images()

        self.progress(f"the pods' upstream resolver on {layout.NODE_IP}:53 (refuses all)")
        (paths.root / "upstream.Corefile").write_text(configs.upstream_corefile())
        upstream = self._spawn("upstream-dns", [
            str(tool("coredns")), "-conf", str(paths.root / "upstream.Corefile")])
        wait_until("the upstream resolver", lambda: _refuses(layout.NODE_IP),
                   self.options.timeout, [upstream], interval=0.2)

        self.progress(f"kubelet (node {layout.NODE_NAME}, kind-config.yaml's settings)")
        (paths.root / "resolv.conf").write_text(configs.resolv_conf())
        kind = configs.kind_kubelet_settings(KIND_CONFIG.read_text())
        (paths.root / "kubelet.yaml").write_text(
            yaml.safe_dump(configs.kubelet_config(paths, kind), sort_keys=False))
        kubelet = self._spawn("kubelet", configs.kubelet_args(paths, str(tool("kubelet"))))
        wait_until(f"node {layout.NODE_NAME} Ready", self._node_ready, self.options.timeout,
                   [kubelet, containerd], interval=1)

        self.progress("kube-proxy (iptables mode)")
        health = free_port()
        proxy = self._spawn("kube-proxy", configs.kube_proxy_args(
            paths, str(tool("kube-proxy")), free_port(), health))
        wait_until("kube-proxy /healthz", lambda: http_ok(health, "/healthz"),
                   self.options.timeout, [proxy], interval=0.5)

        self.progress("cluster DNS as kind creates it (kube-system/coredns, kind's Corefile)")
        self._kube_dns(paths)

        self.progress("the kind path: charts/lab-install.sh")
        state = self._state(paths)
        state.save(paths.state_file)
        values = [str(NODE_VALUES), *map(str, self.options.values)]
        _stream([str(INSTALL_SCRIPT)], self.progress, env={
            "KUBECONFIG": str(paths.kubeconfig), "KUBECTL": str(tool("kubectl")),
            "HELM": str(tool("helm")), "CHAOSLAB_VALUES": " ".join(values),
            "COREDNS_IMAGE": f"docker.io/chaoslab/coredns:{layout.IMAGE_TAG}",
            "WAIT_TIMEOUT": str(self.options.install_timeout)},
            timeout=self.options.install_timeout + 300)
        self._wait_all_pods_ready()
        state = self._state(paths)
        state.save(paths.state_file)
        return state

    def _pki(self, paths: NodePaths) -> pki.Authority:
        paths.pki.mkdir(parents=True, exist_ok=True)
        ca = pki.Authority(paths.pki)
        ca.issue("kubelet-serving", layout.NODE_NAME, server=True, ips=(layout.NODE_IP,),
                 dns_names=(layout.NODE_NAME,))
        ca.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                 org="system:masters")
        ca.issue("kubelet", f"system:node:{layout.NODE_NAME}", org="system:nodes")
        ca.issue("controller-manager", "system:kube-controller-manager")
        ca.issue("scheduler", "system:kube-scheduler")
        ca.issue("kube-proxy", "system:kube-proxy")
        return ca

    def _kubeconfigs(self, paths: NodePaths) -> None:
        assert self.cp
        for stem, user in (("kubelet", f"system:node:{layout.NODE_NAME}"),
                           ("controller-manager", "system:kube-controller-manager"),
                           ("scheduler", "system:kube-scheduler"),
                           ("kube-proxy", "system:kube-proxy")):
            config = configs.kubeconfig(self.cp.server, paths.pki / "ca.crt",
                                        paths.pki / f"{stem}.crt", paths.pki / f"{stem}.key", user)
            target = paths.root / f"{stem}.kubeconfig"
            target.write_text(yaml.safe_dump(config, sort_keys=False))
            target.chmod(0o600)

    def _ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ctr", "--address", str(self.paths.containerd_socket),
                               "--namespace", "k8s.io", *args],
                              capture_output=True, text=True, timeout=timeout)

    def _import_images(self) -> None:
        have = self._ctr("images", "ls").stdout.split()
        for name in IMAGES:
            archive = self.paths.images / f"{name}.tar"
            if archive_digest(archive) in have:
                continue  # containerd's store (kept in the cache) has this very image
            self.progress(f"importing {archive.name} into containerd")
            # Unpacked here, once: left to the first CreateContainer, a dozen pods unpack
            # the same image at once and the kubelet's 2-minute deadline runs out.
            out = self._ctr("images", "import", "--snapshotter", "overlayfs", str(archive))
            if out.returncode != 0:
                raise ComponentFailed(f"importing {archive} into containerd failed: "
                                      f"{out.stderr.strip()}")
        lab_coredns = f"docker.io/chaoslab/coredns:{layout.IMAGE_TAG}"
        out = self._ctr("images", "tag", "--force", lab_coredns, layout.STOCK_COREDNS_IMAGE)
        if out.returncode != 0:
            raise ComponentFailed(f"tagging the stock CoreDNS image failed: {out.stderr.strip()}")

    def _kubectl(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return kubectl(self.paths, *args, input=input, check=check, timeout=timeout)

    def _node_ready(self) -> bool:
        out = self._kubectl("get", "node", layout.NODE_NAME, "-o",
                            "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False)
        return out.stdout.strip() == "True"

    def _kube_dns(self, paths: NodePaths) -> None:
        self._kubectl("-n", "kube-system", "create", "configmap", "coredns",
                      f"--from-file=Corefile={KIND_DEFAULT_COREFILE}")
        manifest = KUBE_DNS.read_text().replace("registry.k8s.io/coredns/coredns:v1.12.1",
                                                layout.STOCK_COREDNS_IMAGE)
        self._kubectl("apply", "-f", "-", input=manifest)
        self._kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns",
                      f"--timeout={int(self.options.timeout)}s", timeout=self.options.timeout + 10)

    def _wait_all_pods_ready(self) -> None:
        """Every pod of the lab Ready (Jobs' pods: Succeeded), with what is still pending."""
        def pending() -> list[str]:
            out = self._kubectl("get", "pods", "-A", "-o", "json")
            waiting = []
            for pod in json.loads(out.stdout)["items"]:
                phase = pod["status"].get("phase")
                ready = any(c["type"] == "Ready" and c["status"] == "True"
                            for c in pod["status"].get("conditions", []))
                if phase != "Succeeded" and not ready:
                    waiting.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
            return waiting
        wait_until("every pod Ready", lambda: not pending(), self.options.timeout, self.procs,
                   interval=1)
        self.progress("every pod is Ready")

    def _state(self, paths: NodePaths) -> LabState:
        from chaoslab_services import catalog

        ips: dict[str, str] = {}
        out = self._kubectl("-n", NAMESPACE, "get", "services", "-o", "json", check=False)
        if out.returncode == 0:
            ips = {s["metadata"]["name"]: s["spec"].get("clusterIP", "")
                   for s in json.loads(out.stdout)["items"]}
        # Service `<service>-<region>` answers endpoint `<service>.<region>` (iam, sts,
        # signin: global, `<service>-us-east-1`).
        services = {}
        for e in catalog.ENDPOINTS:
            ip = ips.get(f"{e.key.split('.')[0]}-{e.region}", "")
            if ip and ip != "None":
                services[e.key] = f"{ip}:{catalog.CLUSTER_PORT}"
        return LabState(
            lab="node",
            kubeconfig=str(paths.kubeconfig),
            dns=f"{layout.CLUSTER_DNS}:53",
            prometheus=f"http://127.0.0.1:{layout.PROMETHEUS_NODEPORT}",
            locust=f"http://127.0.0.1:{layout.LOCUST_NODEPORT}",
            services=services,
            pids={p.name: p.pid for p in self.procs},
            logs=str(paths.logs),
            workdir=str(paths.root),
            started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def _spawn(self, name: str, argv: list[str]) -> Proc:
        proc = spawn(name, argv, self.paths.logs / f"node-{name}.log", into=self.procs)
        self._record()
        return proc

    def _record(self) -> None:
        paths = self.paths
        state = LabState(lab="node", kubeconfig=str(paths.kubeconfig), dns="", prometheus="",
                         locust="", services={}, logs=str(paths.logs), workdir=str(paths.root))
        if paths.state_file.exists():
            state = LabState.load(paths.state_file)
        state.pids = {p.name: p.pid for p in self.procs}
        state.save(paths.state_file)


# -- helpers ---------------------------------------------------------------------------------
def _refuses(address: str) -> bool:
    """Whether a DNS server on address:53 answers (REFUSED, as the upstream does)."""
    reply = dns.query.udp(dns.message.make_query("probe.invalid", "A"), address, timeout=0.5)
    return reply.rcode() == dns.rcode.REFUSED


def kubectl(paths: NodePaths, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(tool("kubectl")), f"--kubeconfig={paths.kubeconfig}", *args],
                            input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise ComponentFailed(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def archive_digest(archive: Path) -> str:
    """The manifest digest of an OCI archive (what `ctr images ls` shows once imported)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ComponentFailed(f"{archive} is not an OCI archive (no index.json)")
        return str(json.load(member)["manifests"][0]["digest"])


def _stream(argv: list[str], progress: Progress, env: dict[str, str] | None = None,
            timeout: float = 900) -> None:
    """Run a script, passing its progress lines through; fail with its last lines."""
    tail: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, **(env or {})}) as proc:
        deadline = time.monotonic() + timeout
        assert proc.stdout
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-19:], line]
            print(f"    {line}", flush=True)
            if time.monotonic() > deadline:
                proc.kill()
                break
        code = proc.wait()
    if code != 0:
        raise ComponentFailed(f"{Path(argv[0]).name} failed (exit {code}):\n" + "\n".join(tail))


def refuse_if_running(paths: NodePaths) -> None:
    if not paths.state_file.exists():
        return
    try:
        pids = json.loads(paths.state_file.read_text()).get("pids", {})
    except (OSError, ValueError):
        pids = {}
    if any(pid_alive(int(pid)) for pid in pids.values()):
        raise ComponentFailed(f"a lab is already running (see {paths.state_file}); stop it "
                              "first (`make down LAB=node`, or `make down LAB=local`)")
    if paths.ledger.exists():
        raise ComponentFailed(f"a node lab's host changes are still recorded in {paths.ledger}:"
                              " run `make down LAB=node` first to undo them")


# -- down ------------------------------------------------------------------------------------
def down(lab_dir: Path, progress: Progress = _print) -> list[str]:
    """Stop the node lab recorded in `lab_dir` and undo its host changes.

    Returns what could not be cleaned (empty when the host is back as it was). Safe to run
    twice, and after an `up` that crashed at any point.
    """
    hostnet.require_root()
    progress = timed(progress)
    paths = NodePaths(lab_dir.resolve())
    state = LabState.load(paths.state_file) if paths.state_file.exists() else None
    if state is None and not paths.ledger.exists():
        progress("no node lab here: nothing to do")
        return []
    pids = state.pids if state else {}
    apiserver = pids.get("kube-apiserver")
    if apiserver and pid_alive(apiserver) and paths.kubeconfig.exists():
        _uninstall_lab(paths, progress)
    ours = {pid for pid, _ in processes_mentioning(paths.root)}
    order = ["kube-proxy", "kube-scheduler", "kube-controller-manager", "kubelet"]
    for name in [*order, *[n for n in reversed(list(pids)) if n not in order]]:
        pid = pids.get(name)
        if not pid or not pid_alive(pid):
            continue
        if pid not in ours:
            progress(f"{name}: pid {pid} is no longer the lab's; left alone")
            continue
        if name == "containerd":
            _stop_containers(paths, progress)
        progress(f"stopping {name} (pid {pid})")
        stop_pid(pid)
    _stop_containers(paths, progress)  # shims of a containerd that died on its own
    problems = [f"process {pid} still running: {cmd[:100]}"
                for pid, cmd in processes_mentioning(paths.root)]
    roots = (paths.root, paths.run_dir, paths.containerd_root)
    problems += hostnet.unmount_all(*roots)
    if paths.ledger.exists():
        problems += hostnet.undo(hostnet.Ledger.load(paths.ledger), progress)
    problems += hostnet.unmount_all(*roots)
    if not problems:
        shutil.rmtree(paths.root, ignore_errors=True)
        shutil.rmtree(paths.run_dir, ignore_errors=True)
        paths.state_file.unlink(missing_ok=True)
        paths.kubeconfig.unlink(missing_ok=True)
    for problem in problems:
        progress(f"NOT CLEANED: {problem}")
    return problems


def _uninstall_lab(paths: NodePaths, progress: Progress) -> None:
    """The kind path's uninstall, then every pod removed while the kubelet still runs, so
    the CNI plugin takes their network namespaces and veths down."""
    progress("uninstalling the lab (charts/lab-uninstall.sh)")
    try:
        _stream([str(UNINSTALL_SCRIPT)], progress, env={
            "KUBECONFIG": str(paths.kubeconfig), "KUBECTL": str(tool("kubectl")),
            "HELM": str(tool("helm")), "COREDNS_WAIT": "0"}, timeout=300)
    except ComponentFailed as exc:
        progress(f"uninstall failed, going on with the teardown: {exc}")
    for kind in ("deployments", "jobs", "daemonsets", "statefulsets", "replicasets"):
        kubectl(paths, "delete", kind, "--all", "-A", "--wait=false", check=False)
    kubectl(paths, "delete", "pods", "--all", "-A", "--grace-period=5", "--wait=false",
            check=False)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        out = kubectl(paths, "get", "pods", "-A", "-o", "name", check=False)
        if out.returncode != 0 or not out.stdout.strip():
            break
        time.sleep(1)
    else:
        progress("pods still terminating after 90 s; their containers are stopped directly")


def _stop_containers(paths: NodePaths, progress: Progress) -> None:
    """Kill what is left of the pods: every process in the kubelet's `kubepods` cgroups
    (the containers), then the containerd shims of this node (their parents)."""
    killed = 0
    for hierarchy in hostnet.cgroup_hierarchies():
        for procs in (hierarchy / "kubepods").rglob("cgroup.procs"):
            for line in procs.read_text().split() if procs.exists() else []:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(line), signal.SIGKILL)
                    killed += 1
    if killed:
        progress(f"killed {killed} container process(es) left in the kubepods cgroups")
    for pid, cmdline in processes_mentioning(str(paths.containerd_socket)):
        if "containerd-shim" in cmdline:
            progress(f"stopping container shim {pid}")
            stop_pid(pid, timeout=5)
