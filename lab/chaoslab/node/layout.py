"""Names, addresses and paths of the node lab: one place, so `up`, `down` and the tests agree.

The addresses are kind's (pods 10.244.0.0/16, Services 10.96.0.0/16, cluster DNS
10.96.0.10), so the chart's defaults (`services.allowedNetworks`, `dns.server`) hold
unchanged. The node's own address is the gateway of its pod bridge: the host reaches it
without touching the uplink, and pods reach the API server there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

NODE_NAME = "chaoslab-node"
BRIDGE = "chaoslab0"
POD_CIDR = "10.244.0.0/24"
POD_SUPERNET = "10.244.0.0/16"
NODE_IP = "10.244.0.1"  # the bridge's address: kube-apiserver, kubelet and NodePorts
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DNS = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
IPTABLES_COMMENT = "chaoslab-node"  # marks every iptables rule the lab adds itself

# NodePorts of the chart (values.yaml); kind maps them to localhost, here they are opened
# on 127.0.0.1 by kube-proxy.
PROMETHEUS_NODEPORT = 30090
LOCUST_NODEPORT = 30089

# The image names the chart and the CoreDNS patch use, as containerd stores them.
IMAGE_TAG = "dev"
PAUSE_IMAGE = "docker.io/chaoslab/pause:3.10"
STOCK_COREDNS_IMAGE = "docker.io/chaoslab/coredns:node-stock"


def cache_dir() -> Path:
    """What survives `down` and fresh clones, keyed by content: the images
    (charts/node-images.sh) and containerd's store of them. `CHAOSLAB_IMAGE_CACHE` moves it."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chaoslab"
    return Path(os.environ.get("CHAOSLAB_IMAGE_CACHE", default))


@dataclass(frozen=True)
class NodePaths:
    """Where a node lab keeps its files.

    Everything is under the lab folder (default `.lab/`), except containerd's state and
    sockets, which go under /run (a unix socket path is limited to 108 bytes, and a CI
    checkout's path may already be long), and containerd's image store, which stays in the
    cache so that a second `up` need not import and unpack the images again.
    """

    lab_dir: Path
    run_dir: Path = Path("/run/chaoslab-node")
    cache: Path = field(default_factory=cache_dir)

    @property
    def root(self) -> Path:
        return self.lab_dir / "node"

    @property
    def state_file(self) -> Path:
        return self.lab_dir / "state.json"

    @property
    def logs(self) -> Path:
        return self.lab_dir / "logs"

    @property
    def ledger(self) -> Path:
        """The host changes `up` made (hostnet.Ledger), read by `down`."""
        return self.root / "host-changes.json"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def containerd_root(self) -> Path:
        return self.cache / "containerd"

    @property
    def images(self) -> Path:
        return self.cache / "images"

    @property
    def containerd_state(self) -> Path:
        return self.run_dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni"

    @property
    def cni_state_dir(self) -> Path:
        """host-local IPAM's leases (its default, /var/lib/cni, would be the host's)."""
        return self.root / "cni-ipam"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig users get (`.lab/kubeconfig`, as for the local lab)."""
        return self.lab_dir / "kubeconfig"
