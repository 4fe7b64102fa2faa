#!/usr/bin/env bash
# `make up`: DNS Chaos Lab on a local kind cluster, from nothing to open dashboards.
#   1. checks docker, kind, kubectl and helm (each missing one is named with how to get it)
#   2. creates the kind cluster from kind-config.yaml (kept if it already exists)
#   3. builds the two images (charts/build-images.sh) and loads them into kind
#   4-6. charts/lab-install.sh, the steps every cluster shares: points the cluster DNS at
#      the lab (charts/coredns-patch.sh apply: reversible), installs/upgrades the Helm
#      chart charts/chaoslab, waits until every Deployment is ready and the bootstrap Job
#      is done, with progress
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
namespace=${CHAOSLAB_NAMESPACE:-chaoslab}  # any: lab-install.sh points the lab Corefile at it
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

# --- 4-6. the steps every cluster shares: cluster DNS, chart, wait (charts/lab-install.sh) ---
KUBECTL=$kubectl HELM=$helm KUBE_CONTEXT=$context CHAOSLAB_NAMESPACE=$namespace IMAGE_TAG=$tag \
  COREDNS_IMAGE=$coredns_image WAIT_TIMEOUT=$wait_timeout "$root/charts/lab-install.sh"

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
