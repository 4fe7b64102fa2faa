#!/usr/bin/env bash
# Removes DNS Chaos Lab from a cluster, the steps every lab shares before its cluster goes
# (charts/kind-down.sh and `chaoslab node down` run it): the chart is uninstalled first, so
# its pre-delete hook runs the kill switch (`chaoslab abort --all`) while the operator
# still runs and no fault survives; then charts/coredns-patch.sh revert restores the
# cluster's own Corefile (byte for byte) and CoreDNS image. Helm never deletes CRDs:
# `kubectl delete crd outagescenarios.chaoslab.io` removes the CRD with every scenario.
# Settings (environment variables): KUBECTL, HELM, KUBE_CONTEXT, CHAOSLAB_NAMESPACE
# (default chaoslab), CHAOSLAB_HELM_UNINSTALL_ARGS (extra `helm uninstall` arguments),
# COREDNS_WAIT=0 (do not wait for the CoreDNS rollout: the cluster is about to go).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
namespace=${CHAOSLAB_NAMESPACE:-chaoslab}
release=chaoslab
context=${KUBE_CONTEXT:-}
say() { printf '==> [uninstall] %s\n' "$*"; }
fail() { printf 'ERROR [uninstall] %s\n' "$*" >&2; exit 1; }
case ${1:-} in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  "") ;;
  *) fail "unknown argument '$1' (settings are environment variables: see --help)" ;;
esac
find_tool() {
  if command -v "$1" >/dev/null; then command -v "$1"
  elif [[ -x $root/.tools/bin/$1 ]]; then printf '%s' "$root/.tools/bin/$1"
  fi
}
kubectl=${KUBECTL:-$(find_tool kubectl)}
helm=${HELM:-$(find_tool helm)}
[[ -n $kubectl ]] || fail "kubectl not found: run 'make tools' or install it (https://kubernetes.io/docs/tasks/tools/)"

if [[ -z $helm ]]; then
  say "helm not found: skipping the uninstall (run 'make tools' to have it)"
elif "$helm" status "$release" ${context:+--kube-context "$context"} -n "$namespace" >/dev/null 2>&1; then
  say "uninstalling the chart (its pre-delete hook reverts every active fault first)"
  read -r -a uninstall_args <<< "${CHAOSLAB_HELM_UNINSTALL_ARGS:-}"
  "$helm" uninstall "$release" ${context:+--kube-context "$context"} -n "$namespace" \
    --wait --timeout 120s ${uninstall_args[@]+"${uninstall_args[@]}"}
else
  say "chart not installed in $namespace"
fi

wait_flag=()
[[ ${COREDNS_WAIT:-1} == 0 ]] && wait_flag=(--no-wait)
KUBECTL=$kubectl "$root/charts/coredns-patch.sh" revert ${context:+--context "$context"} \
  ${wait_flag[@]+"${wait_flag[@]}"}
