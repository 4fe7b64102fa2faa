"""Every file and command line of the node's components, as pure functions.

Nothing here touches the host, so each setting the machine forces is unit-tested and
written down next to its reason (charts/NODE.md has the table):
- the kubelet runs on cgroup v1 (hybrid), which Kubernetes 1.34 refuses unless told;
- this machine has no CAP_SYS_RESOURCE, so nothing may lower an oom_score_adj
  (containerd's `restrict_oom_score_adj`, the kubelet's `oomScoreAdj: 0`);
- there is no IPVS, so kube-proxy runs in iptables mode;
- pods never reach off this machine: the pods' resolver is the bridge's own address, where
  the node's "upstream" (a host CoreDNS, `upstream_corefile`) refuses every query at once, so
  CoreDNS's `forward . /etc/resolv.conf` stays on the host and never waits. With nothing
  listening there, the kernel's ICMP rate limit (`net.ipv4.icmp_ratelimit`, 1/s) left most
  forwarded queries to time out after 2 s, and a SIGUSR1 reload of CoreDNS waited for them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from chaoslab.node import layout
from chaoslab.node.layout import NodePaths


def kind_kubelet_settings(kind_config: str) -> dict[str, Any]:
    """The KubeletConfiguration patches of kind-config.yaml, merged: the node lab runs the
    same kubelet settings as the kind cluster users get."""
    doc = yaml.safe_load(kind_config) or {}
    merged: dict[str, Any] = {}
    for patch in doc.get("kubeadmConfigPatches", []):
        body = yaml.safe_load(patch) if isinstance(patch, str) else patch
        if isinstance(body, dict) and body.get("kind") == "KubeletConfiguration":
            merged.update({k: v for k, v in body.items() if k not in ("kind", "apiVersion")})
    return merged


def kubelet_config(paths: NodePaths, kind_settings: Mapping[str, Any]) -> dict[str, Any]:
    pki = paths.pki
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": layout.NODE_IP,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
        "cgroupDriver": "cgroupfs",  # no systemd here
        "failCgroupV1": False,  # the machine is cgroup v1 (hybrid); 1.34 refuses it otherwise
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        "clusterDNS": [layout.CLUSTER_DNS],
        "clusterDomain": layout.CLUSTER_DOMAIN,
        "resolvConf": str(paths.root / "resolv.conf"),
        "failSwapOn": False,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "oomScoreAdj": 0,  # lowering it needs CAP_SYS_RESOURCE, which this machine lacks
        # A laptop's disk and memory, not a production node's: evict only when nearly out.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100,  # the images cannot be pulled again: keep them
        "serializeImagePulls": False,
        "rotateCertificates": False,
    }
    config.update(kind_settings)
    return config


def kubelet_args(paths: NodePaths, kubelet: str) -> list[str]:
    return [kubelet, f"--config={paths.root / 'kubelet.yaml'}",
            f"--kubeconfig={paths.root / 'kubelet.kubeconfig'}",
            f"--root-dir={paths.kubelet_root}", f"--hostname-override={layout.NODE_NAME}",
            f"--node-ip={layout.NODE_IP}", "--v=1"]


def containerd_config(paths: NodePaths) -> str:
    """containerd 1.6's config v2: a private root, state, socket and CNI config dir."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
oom_score = 0

[grpc]
  address = "{paths.containerd_socket}"

[ttrpc]
  address = "{paths.run_dir / 'containerd.ttrpc.sock'}"

[{cri}]
  sandbox_image = "{layout.PAUSE_IMAGE}"
  # Without CAP_SYS_RESOURCE runc cannot lower a container's oom_score_adj; every pod
  # then fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{paths.cni_conf_dir}"
"""


def cni_conflist(paths: NodePaths) -> dict[str, Any]:
    """One bridge, host-local addresses; no masquerade: pods have nowhere off-box to go."""
    return {
        "cniVersion": "0.4.0",
        "name": "chaoslab",
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,  # a pod reaching its own Service through kube-proxy
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(paths.cni_state_dir),
                    "ranges": [[{"subnet": layout.POD_CIDR, "gateway": layout.NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
        ],
    }


def resolv_conf() -> str:
    """The resolver of pods with dnsPolicy Default (CoreDNS): the bridge's own address,
    where the node's upstream refuses every query, so an outside name fails at once."""
    return (f"# DNS Chaos Lab node: no resolver off this machine\n"
            f"nameserver {layout.NODE_IP}\n")


def upstream_corefile(address: str = layout.NODE_IP, port: int = 53) -> str:
    """The node's upstream resolver: REFUSED for every query, on the bridge address only.

    It answers nothing and forwards nothing, so no lookup leaves the machine; answering at
    once (instead of an ICMP error the kernel rate-limits) keeps CoreDNS's `forward` from
    holding queries for its 2 s timeout.
    """
    return (f".:{port} {{\n    bind {address}\n    template ANY ANY {{\n"
            f"        rcode REFUSED\n    }}\n}}\n")


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str) -> dict[str, Any]:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "chaoslab-node",
                      "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert),
                                          "client-key-data": b64(key)}}],
        "contexts": [{"name": "chaoslab-node",
                      "context": {"cluster": "chaoslab-node", "user": user}}],
        "current-context": "chaoslab-node",
    }


def apiserver_overrides(paths: NodePaths) -> dict[str, str]:
    """What a node's API server needs beyond the local lab's (flag -> value)."""
    pki = paths.pki
    return {
        "--bind-address": layout.NODE_IP,
        "--advertise-address": layout.NODE_IP,
        "--authorization-mode": "Node,RBAC",
        "--enable-admission-plugins": "NodeRestriction",
        "--kubelet-client-certificate": str(pki / "apiserver-kubelet-client.crt"),
        "--kubelet-client-key": str(pki / "apiserver-kubelet-client.key"),
        "--kubelet-certificate-authority": str(pki / "ca.crt"),
        "--kubelet-preferred-address-types": "InternalIP",
        "--endpoint-reconciler-type": "lease",  # pods reach it as the `kubernetes` Service
    }


def controller_manager_args(paths: NodePaths, binary: str, port: int) -> list[str]:
    pki, kc = paths.pki, paths.root / "controller-manager.kubeconfig"
    return [binary, f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}", "--use-service-account-credentials",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
            "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={port}",
            "--v=1"]


def scheduler_args(paths: NodePaths, binary: str, port: int) -> list[str]:
    kc = paths.root / "scheduler.kubeconfig"
    return [binary, f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}", "--leader-elect=false",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--v=1"]


def kube_proxy_args(paths: NodePaths, binary: str, metrics_port: int, health_port: int
                    ) -> list[str]:
    # Conntrack settings 0 = leave the host's sysctls alone (nothing to restore on down).
    return [binary, f"--kubeconfig={paths.root / 'kube-proxy.kubeconfig'}",
            "--proxy-mode=iptables", f"--cluster-cidr={layout.POD_SUPERNET}",
            f"--hostname-override={layout.NODE_NAME}", "--conntrack-max-per-core=0",
            "--conntrack-tcp-timeout-established=0s", "--conntrack-tcp-timeout-close-wait=0s",
            f"--metrics-bind-address=127.0.0.1:{metrics_port}",
            f"--healthz-bind-address=127.0.0.1:{health_port}", "--v=1"]
