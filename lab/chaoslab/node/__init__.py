"""The node lab: one real Kubernetes node on this Linux host, without Docker.

kind runs a node inside a container; here the same programs run directly on the host, each
by its own PID: the lab's etcd and kube-apiserver, the controller manager, the scheduler,
containerd + runc with a CNI bridge, the kubelet with kind-config.yaml's kubelet settings,
and kube-proxy in iptables mode. Then the lab goes on exactly as on kind
(`charts/lab-install.sh`): the CoreDNS patch, the chart, the wait for the bootstrap Job.

Modules: `layout` (names, addresses, paths), `configs` (the pure builders of every config
file), `hostnet` (the host changes, recorded so `down` undoes exactly those), `images`
(OCI archives into containerd), `cluster` (start, wait, stop), `command` (`chaoslab node`),
`kubelet` (the pods' restarts and memory as the kubelet counts them).
"""
