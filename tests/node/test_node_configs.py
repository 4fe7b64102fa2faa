"""The node's config builders (pure): each setting the machine forces is there."""

from __future__ import annotations

import subprocess
import time
import tomllib
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from chaoslab.controlplane import _with_overrides
from chaoslab.node import configs, hostnet, layout
from chaoslab.node.cluster import KIND_CONFIG
from chaoslab.node.layout import NodePaths
from chaoslab.procs import free_port
from chaoslab.toolpaths import tool

PATHS = NodePaths(Path("/srv/lab"), cache=Path("/srv/cache"))


def test_the_kubelet_gets_kind_configs_settings() -> None:
    kind = configs.kind_kubelet_settings(KIND_CONFIG.read_text())
    assert kind == {"syncFrequency": "10s", "configMapAndSecretChangeDetectionStrategy": "Watch"}
    config = configs.kubelet_config(PATHS, kind)
    assert config["syncFrequency"] == "10s"
    assert config["configMapAndSecretChangeDetectionStrategy"] == "Watch"


def test_kind_settings_win_over_the_nodes_own() -> None:
    config = configs.kubelet_config(PATHS, {"readOnlyPort": 10255})
    assert config["readOnlyPort"] == 10255


def test_kubelet_settings_this_machine_forces() -> None:
    config = configs.kubelet_config(PATHS, {})
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["oomScoreAdj"] == 0  # no CAP_SYS_RESOURCE: it may not be lowered
    assert config["clusterDNS"] == [layout.CLUSTER_DNS]
    assert config["containerRuntimeEndpoint"] == f"unix://{PATHS.containerd_socket}"
    assert config["resolvConf"] == "/srv/lab/node/resolv.conf"
    assert config["authentication"]["anonymous"]["enabled"] is False


def test_pods_resolver_is_on_the_host() -> None:
    lines = [line for line in configs.resolv_conf().splitlines() if not line.startswith("#")]
    assert lines == [f"nameserver {layout.NODE_IP}"]


def test_the_pods_upstream_refuses_every_query_at_once(tmp_path: Path) -> None:
    """The real CoreDNS on the upstream's Corefile (on loopback here): REFUSED for any name
    and type, over UDP and TCP, well inside forward's 2 s timeout."""
    port = free_port()
    corefile = tmp_path / "Corefile"
    corefile.write_text(configs.upstream_corefile("127.0.0.1", port))
    assert f"bind {layout.NODE_IP}" in configs.upstream_corefile()
    with (tmp_path / "log").open("wb") as log:
        proc = subprocess.Popen([str(tool("coredns")), "-conf", str(corefile)], stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        query = dns.message.make_query("example.com", "A")
        deadline = time.monotonic() + 15
        while True:
            try:
                dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
                break
            except dns.exception.Timeout:
                assert time.monotonic() < deadline, (tmp_path / "log").read_text()
        for name, rdtype in (("example.com", "A"), ("s3.amazonaws.com", "AAAA"), (".", "NS")):
            for send in (dns.query.udp, dns.query.tcp):
                start = time.monotonic()
                reply = send(dns.message.make_query(name, rdtype), "127.0.0.1", port=port,
                             timeout=2)
                assert reply.rcode() == dns.rcode.REFUSED and not reply.answer
                assert time.monotonic() - start < 0.5
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_containerd_is_private_and_never_lowers_oom_scores() -> None:
    config = tomllib.loads(configs.containerd_config(PATHS))
    assert config["root"] == "/srv/cache/containerd"  # the imported images outlive `down`
    assert config["state"] == "/run/chaoslab-node/containerd"
    assert config["grpc"]["address"] == "/run/chaoslab-node/containerd.sock"
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == layout.PAUSE_IMAGE
    assert cri["cni"]["conf_dir"] == "/srv/lab/node/cni"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False


def test_cni_bridge_keeps_its_state_and_pods_to_the_lab() -> None:
    bridge = configs.cni_conflist(PATHS)["plugins"][0]
    assert bridge["bridge"] == layout.BRIDGE and bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"] == "/srv/lab/node/cni-ipam"
    assert bridge["ipam"]["ranges"] == [[{"subnet": layout.POD_CIDR, "gateway": layout.NODE_IP}]]


def test_the_forward_guard_drops_whatever_leaves_by_another_interface() -> None:
    guard = " ".join(hostnet.forward_guard())
    assert guard.startswith(f"-s {layout.POD_SUPERNET} ! -o {layout.BRIDGE} ")
    assert guard.endswith("-j DROP") and layout.IPTABLES_COMMENT in guard


def test_apiserver_overrides_replace_flags_and_add_the_rest() -> None:
    argv = ["kube-apiserver", "--authorization-mode=RBAC", "--v=1"]
    out = _with_overrides({"--authorization-mode": "Node,RBAC", "--bind-address": "10.0.0.1"},
                          argv)
    assert out == ["kube-apiserver", "--authorization-mode=Node,RBAC", "--v=1",
                   "--bind-address=10.0.0.1"]
    overrides = configs.apiserver_overrides(PATHS)
    assert overrides["--authorization-mode"] == "Node,RBAC"
    assert overrides["--advertise-address"] == layout.NODE_IP


def test_kube_proxy_leaves_conntrack_sysctls_alone() -> None:
    argv = configs.kube_proxy_args(PATHS, "kube-proxy", 1, 2)
    assert "--proxy-mode=iptables" in argv  # no IPVS on this machine
    assert "--conntrack-max-per-core=0" in argv
    assert "--conntrack-tcp-timeout-established=0s" in argv
