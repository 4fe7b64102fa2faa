#!/usr/bin/env bash
# `make down`: undoes charts/kind-up.sh.
#   charts/kind-down.sh                 uninstall the lab, restore the cluster DNS, delete the cluster
#   charts/kind-down.sh --keep-cluster  uninstall the lab and restore the cluster DNS only
# charts/lab-uninstall.sh (shared with the node lab) uninstalls the chart first: its
# pre-delete hook runs the kill switch (`chaoslab abort --all`) while the operator still
# runs, so no fault survives; then charts/coredns-patch.sh revert restores kind's Corefile
# (byte for byte) and CoreDNS image. With --keep-cluster the OutageScenario CRD stays (Helm never deletes CRDs):
# `kubectl delete crd outagescenarios.chaoslab.io` removes it with every scenario.
# Settings: KIND_CLUSTER_NAME (default chaoslab); CHAOSLAB_HELM_UNINSTALL_ARGS, extra
# arguments for `helm uninstall` (the tests pass --no-hooks: without a kubelet no Job runs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cluster=${KIND_CLUSTER_NAME:-chaoslab}
context=kind-$cluster
namespace=${CHAOSLAB_NAMESPACE:-chaoslab}  # any: lab-install.sh points the lab Corefile at it
keep=0
case ${1:-} in
  --keep-cluster) keep=1 ;;
  "") ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) printf 'ERROR [down] unknown option %s (use --keep-cluster or nothing)\n' "$1" >&2; exit 2 ;;
esac

say() { printf '==> [down] %s\n' "$*"; }
fail() { printf 'ERROR [down] %s\n' "$*" >&2; exit 1; }
find_tool() {
  if command -v "$1" >/dev/null; then command -v "$1"
  elif [[ -x $root/.tools/bin/$1 ]]; then printf '%s' "$root/.tools/bin/$1"
  fi
}
kind=$(find_tool kind)
kubectl=$(find_tool kubectl)
helm=$(find_tool helm)
[[ -n $kind ]] || fail "kind is not installed, so there is no kind cluster to remove"
[[ -n $kubectl ]] || fail "kubectl not found: run 'make tools' or install it (https://kubernetes.io/docs/tasks/tools/)"

clusters=$("$kind" get clusters 2>/dev/null || true)
if ! grep -qx "$cluster" <<<"$clusters"; then
  say "no kind cluster '$cluster': nothing to do"
  exit 0
fi

# The steps every cluster shares (charts/lab-uninstall.sh): the chart, then the cluster DNS.
# With the cluster about to be deleted there is no CoreDNS rollout to wait for.
coredns_wait=${COREDNS_WAIT:-1}
[[ $keep == 1 ]] || coredns_wait=0
KUBECTL=$kubectl HELM=$helm KUBE_CONTEXT=$context CHAOSLAB_NAMESPACE=$namespace \
  COREDNS_WAIT=$coredns_wait "$root/charts/lab-uninstall.sh"

if [[ $keep == 1 ]]; then
  say "kept cluster '$cluster' (context $context); the CRD outagescenarios.chaoslab.io stays"
else
  say "deleting kind cluster '$cluster'"
  "$kind" delete cluster --name "$cluster"
fi
say "done"
