#!/usr/bin/env bash
# Installs DNS Chaos Lab onto a running cluster: the steps every lab shares once its cluster
# exists and the images are on its node. charts/kind-up.sh runs it after `kind create
# cluster`; `chaoslab node up` (make up LAB=node) after starting its real node, so what the
# node lab tests is the kind path itself.
#   1. points the cluster DNS at the lab (charts/coredns-patch.sh apply: reversible)
#   2. creates the namespace (Pod Security "restricted") and installs/upgrades the chart
#   3. waits until every Deployment is ready and the bootstrap Job is done, with progress
# Re-running it is safe: every step is idempotent. charts/lab-uninstall.sh undoes it.
#
# Settings (environment variables):
#   KUBECTL, HELM         the binaries (default: PATH, then .tools/bin)
#   KUBE_CONTEXT          kubectl context (default: the current one of $KUBECONFIG)
#   CHAOSLAB_NAMESPACE    namespace of the release (default chaoslab)
#   CHAOSLAB_VALUES       extra values file(s) for the chart, space-separated
#   CHAOSLAB_SET          extra --set assignments for the chart, space-separated
#   IMAGE_TAG             tag of the lab's images (default dev)
#   COREDNS_IMAGE         the lab's CoreDNS image (default chaoslab/coredns:$IMAGE_TAG)
#   COREDNS_PROJECTOR     on (default): the projector sidecar brings faults to CoreDNS at once;
#                         off: the kubelet's ConfigMap sync + `reload 2s` (coredns-patch.sh)
#   WAIT_TIMEOUT          seconds to wait in step 3 (default 600)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
namespace=${CHAOSLAB_NAMESPACE:-chaoslab}
release=chaoslab
tag=${IMAGE_TAG:-dev}
coredns_image=${COREDNS_IMAGE:-chaoslab/coredns:$tag}
projector=${COREDNS_PROJECTOR:-on}
wait_timeout=${WAIT_TIMEOUT:-600}
context=${KUBE_CONTEXT:-}

say() { printf '==> [install] %s\n' "$*"; }
fail() { printf 'ERROR [install] %s\n' "$*" >&2; exit 1; }
case ${1:-} in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  "") ;;
  *) fail "unknown argument '$1' (settings are environment variables: see --help)" ;;
esac
find_tool() { # name -> path or empty
  if command -v "$1" >/dev/null; then command -v "$1"
  elif [[ -x $root/.tools/bin/$1 ]]; then printf '%s' "$root/.tools/bin/$1"
  fi
}
kubectl=${KUBECTL:-$(find_tool kubectl)}
helm=${HELM:-$(find_tool helm)}
[[ -n $kubectl ]] || fail "kubectl not found: run 'make tools' or install it (https://kubernetes.io/docs/tasks/tools/)"
[[ -n $helm ]] || fail "helm not found: run 'make tools' or install it (https://helm.sh/docs/intro/install/)"
k() { "$kubectl" ${context:+--context "$context"} "$@"; }
where=${context:+--context $context}

# --- 1. cluster DNS ---------------------------------------------------------------------
KUBECTL=$kubectl "$root/charts/coredns-patch.sh" apply ${context:+--context "$context"} \
  --image "$coredns_image" --lab-namespace "$namespace" \
  --projector "$projector" --projector-image "chaoslab/lab:$tag"

# --- 2. chart ---------------------------------------------------------------------------
values=()
for f in ${CHAOSLAB_VALUES:-}; do values+=(-f "$f"); done
for s in ${CHAOSLAB_SET:-}; do values+=(--set "$s"); done
# The namespace enforces the "restricted" Pod Security Standard: every lab pod is
# non-root, read-only, capability-free, and the API server refuses one that is not.
k create namespace "$namespace" --dry-run=client -o yaml | k apply -f - >/dev/null
k label namespace "$namespace" --overwrite >/dev/null \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
say "installing the chart (release $release, namespace $namespace)"
"$helm" upgrade --install "$release" "$root/charts/chaoslab" \
  ${context:+--kube-context "$context"} --namespace "$namespace" \
  --set image.tag="$tag" ${values[@]+"${values[@]}"}

# --- 3. wait ----------------------------------------------------------------------------
say "waiting for the lab to be ready (up to ${wait_timeout}s)"
deadline=$((SECONDS + wait_timeout))
last=""
while :; do
  # name ready/desired, one line per Deployment
  status=$(k -n "$namespace" get deployments \
    -o go-template='{{range .items}}{{.metadata.name}} {{or .status.readyReplicas 0}}/{{.spec.replicas}}{{"\n"}}{{end}}')
  total=$(grep -c . <<<"$status" || true)
  pending=$(awk '{split($2, r, "/"); if (r[1] != r[2]) printf "%s(%s) ", $1, $2}' <<<"$status")
  pending=${pending% }
  ready=$((total - $(wc -w <<<"$pending")))
  line="deployments ready: $ready/$total${pending:+; waiting for: $pending}"
  if [[ $line != "$last" ]]; then say "$line"; last=$line; fi
  [[ -z $pending && $total -gt 0 ]] && break
  if ((SECONDS >= deadline)); then
    k -n "$namespace" get pods -o wide >&2 || true
    fail "not ready after ${wait_timeout}s. Look at: kubectl $where -n $namespace describe pod <name>; ... logs <name>"
  fi
  sleep 3
done
job=$(k -n "$namespace" get jobs -l app.kubernetes.io/component=bootstrap \
  --sort-by=.metadata.creationTimestamp -o name | tail -n 1)
if [[ -n $job ]]; then
  say "waiting for the lab data ($job)"
  remaining=$((deadline - SECONDS)); ((remaining > 30)) || remaining=30
  k -n "$namespace" wait --for=condition=complete "$job" --timeout="${remaining}s" >/dev/null \
    || fail "bootstrap did not complete: kubectl $where -n $namespace logs $job"
fi
say "the lab is installed (namespace $namespace)"
