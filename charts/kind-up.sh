#!/usr/bin/env bash
# `make up`: DNS Chaos Lab on a local kind cluster, from nothing to open dashboards.
#   1. checks docker, kind, kubectl and helm (each missing one is named with how to get it)
#   2. creates the kind cluster from kind-config.yaml (kept if it already exists)
#   3. builds the two images (charts/build-images.sh) and loads them into kind
#   4. points the cluster DNS at the lab (charts/coredns-patch.sh apply: reversible)
#   5. installs/upgrades the Helm chart charts/chaoslab
#   6. waits until every Deployment is ready and the bootstrap Job is done, with progress
#   7. prints the URLs
# Re-running it is safe: every step is idempotent. `make down` undoes it (charts/kind-down.sh).
#
# Settings (environment variables):
#   KIND_CLUSTER_NAME  cluster name (default chaoslab; kubectl context kind-<name>)
#   KIND_NODE_IMAGE    kindest/node image (default: kind's own default)
#   CHAOSLAB_VALUES    extra values file(s) for the chart, space-separated
#                      (e.g. charts/chaoslab/values-minimal.yaml for a small laptop)
#   IMAGE_TAG          tag of the lab's images (default dev)
#   SKIP_BUILD=1       use images already built (skip step 3's docker build)
#   WAIT_TIMEOUT       seconds to wait in step 6 (default 600)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cluster=${KIND_CLUSTER_NAME:-chaoslab}
context=kind-$cluster
namespace=chaoslab  # the lab Corefile maps *.aws.internal to Services of this namespace
release=chaoslab
tag=${IMAGE_TAG:-dev}
lab_image=chaoslab/lab:$tag
coredns_image=chaoslab/coredns:$tag
wait_timeout=${WAIT_TIMEOUT:-600}

say() { printf '==> [up] %s\n' "$*"; }
fail() { printf 'ERROR [up] %s\n' "$*" >&2; exit 1; }

# --- 1. tools ---------------------------------------------------------------------------
# kubectl and helm may also come from `make tools` (.tools/bin), built at the pinned versions.
find_tool() { # name -> path or empty
  if command -v "$1" >/dev/null; then command -v "$1"
  elif [[ -x $root/.tools/bin/$1 ]]; then printf '%s' "$root/.tools/bin/$1"
  fi
}
missing=()
docker=$(find_tool docker)
kind=$(find_tool kind)
kubectl=$(find_tool kubectl)
helm=$(find_tool helm)
[[ -n $docker ]] || missing+=("docker  - the container engine kind runs on: https://docs.docker.com/engine/install/ (or Docker Desktop)")
[[ -n $kind ]] || missing+=("kind    - Kubernetes in Docker: 'go install sigs.k8s.io/kind@latest' or https://kind.sigs.k8s.io/docs/user/quick-start/#installation")
[[ -n $kubectl ]] || missing+=("kubectl - 'make tools' builds the pinned one into .tools/bin, or https://kubernetes.io/docs/tasks/tools/")
[[ -n $helm ]] || missing+=("helm    - 'make tools' builds the pinned one into .tools/bin, or https://helm.sh/docs/intro/install/")
if [[ ${#missing[@]} -gt 0 ]]; then
  printf 'ERROR [up] missing tools:\n' >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
"$docker" info >/dev/null 2>&1 \
  || fail "docker is installed but its daemon is not reachable: start Docker and retry ('docker info' tells why)"
say "tools: $docker, $kind, $kubectl, $helm"
k() { "$kubectl" --context "$context" "$@"; }

# --- 2. cluster -------------------------------------------------------------------------
clusters=$("$kind" get clusters 2>/dev/null || true)
if grep -qx "$cluster" <<<"$clusters"; then
  say "kind cluster '$cluster' exists: reusing it"
else
  say "creating kind cluster '$cluster' (kind-config.yaml; first time pulls the node image)"
  "$kind" create cluster --name "$cluster" --config "$root/kind-config.yaml" --wait 180s \
    ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}
fi
k get --raw /readyz >/dev/null || fail "the cluster's API server does not answer (context $context)"

# --- 3. images --------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} == 1 ]]; then
  say "SKIP_BUILD=1: using the images already built"
else
  IMAGE_TAG=$tag "$root/charts/build-images.sh"
fi
say "loading $lab_image and $coredns_image into kind"
"$kind" load docker-image --name "$cluster" "$lab_image" "$coredns_image"

# --- 4. cluster DNS ---------------------------------------------------------------------
KUBECTL=$kubectl "$root/charts/coredns-patch.sh" apply --context "$context" --image "$coredns_image"

# --- 5. chart ---------------------------------------------------------------------------
values=()
for f in ${CHAOSLAB_VALUES:-}; do values+=(-f "$f"); done
# The namespace enforces the "restricted" Pod Security Standard: every lab pod is
# non-root, read-only, capability-free, and the API server refuses one that is not.
k create namespace "$namespace" --dry-run=client -o yaml | k apply -f - >/dev/null
k label namespace "$namespace" --overwrite >/dev/null \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
say "installing the chart (release $release, namespace $namespace)"
"$helm" upgrade --install "$release" "$root/charts/chaoslab" \
  --kube-context "$context" --namespace "$namespace" \
  --set image.tag="$tag" ${values[@]+"${values[@]}"}

# --- 6. wait ----------------------------------------------------------------------------
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
    fail "not ready after ${wait_timeout}s. Look at: kubectl --context $context -n $namespace describe pod <name>; ... logs <name>"
  fi
  sleep 3
done
job=$(k -n "$namespace" get jobs -l app.kubernetes.io/component=bootstrap \
  --sort-by=.metadata.creationTimestamp -o name | tail -n 1)
if [[ -n $job ]]; then
  say "waiting for the lab data ($job)"
  remaining=$((deadline - SECONDS)); ((remaining > 30)) || remaining=30
  k -n "$namespace" wait --for=condition=complete "$job" --timeout="${remaining}s" >/dev/null \
    || fail "bootstrap did not complete: kubectl --context $context -n $namespace logs $job"
fi

# --- 7. URLs ----------------------------------------------------------------------------
enabled() { k -n "$namespace" get service "$1" -o name >/dev/null 2>&1; }
say "the lab is up (kubectl context: $context, namespace: $namespace)"
enabled grafana && printf '    Grafana     http://localhost:3000   (dashboards in folder "DNS Chaos Lab"; admin login: admin / chaoslab)\n'
enabled prometheus && printf '    Prometheus  http://localhost:9090\n'
enabled locust-master && printf '    Locust      http://localhost:8089   (customers start by themselves)\n'
cat <<EOF
    First game day:   kubectl --context $context apply -f scenarios/<scenario>.yaml
                      kubectl --context $context get outagescenarios -A -w
    Cluster DNS:      charts/coredns-patch.sh status --context $context
    Stop:             make down   (or charts/kind-down.sh --keep-cluster to keep the cluster)
EOF
