#!/usr/bin/env bash
# Points a cluster's DNS at DNS Chaos Lab, and back, reversibly:
#
#   charts/coredns-patch.sh apply    save the original, run the lab's CoreDNS with the lab Corefile
#   charts/coredns-patch.sh revert   restore the original Corefile (byte for byte) and image
#   charts/coredns-patch.sh status   say which of the two the cluster runs
#
# apply:
#   1. saves the live Corefile and the CoreDNS image into the ConfigMap
#      <namespace>/coredns-original (only the first time: a second apply keeps the true
#      original), and warns if NodeLocal DNSCache would mask the lab's faults;
#   2. swaps the CoreDNS Deployment's image to the lab's build (stock CoreDNS plus the
#      chaoslab plugin; the stock Corefile runs on it unchanged) and waits for the rollout;
#   3. writes the lab Corefile (the aws.internal zone, the operator's marker lines,
#      `reload 2s 0s`) into the coredns ConfigMap, changing only its Corefile key;
#   4. annotates the CoreDNS pods so the kubelet syncs the ConfigMap volume now instead
#      of at its next periodic sync (kubernetes#30189); CoreDNS's reload picks it up.
# revert undoes 3, 2 and 1 in reverse order and deletes the saved copy; with nothing saved
# it says so and succeeds ("already reverted" is not an error).
#
# Independent of the chart and of the chaoslab package: kubectl is all it needs.
# Settings (flags win over environment variables):
#   --context NAME      KUBE_CONTEXT        kubectl context (default: the current one)
#   --image IMAGE       COREDNS_IMAGE       lab CoreDNS image (default chaoslab/coredns:dev;
#                                           "keep" leaves the image alone)
#   --corefile FILE     COREFILE            lab Corefile (default: files/coredns/Corefile.kind-lab)
#   --lab-namespace NS  LAB_NAMESPACE       namespace of the chart's release (default chaoslab):
#                                           the aws.internal names are rewritten to its Services
#   --namespace NS      COREDNS_NAMESPACE   where CoreDNS runs (default kube-system)
#   --no-wait           COREDNS_WAIT=0      do not wait for the CoreDNS rollout
#   KUBECTL (kubectl binary), COREDNS_CONFIGMAP (coredns), COREDNS_DEPLOYMENT (coredns),
#   COREDNS_CONTAINER (coredns), COREDNS_BACKUP (coredns-original), COREDNS_TIMEOUT (180s)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
say() { printf '==> [coredns] %s\n' "$*"; }
warn() { printf 'WARNING [coredns] %s\n' "$*" >&2; }
fail() { printf 'ERROR [coredns] %s\n' "$*" >&2; exit 1; }

action=${1:-}
[[ $# -gt 0 ]] && shift
context=${KUBE_CONTEXT:-}
image=${COREDNS_IMAGE:-chaoslab/coredns:dev}
corefile=${COREFILE:-$here/chaoslab/files/coredns/Corefile.kind-lab}
default_corefile=$here/chaoslab/files/coredns/Corefile.kind-default
ns=${COREDNS_NAMESPACE:-kube-system}
wait=${COREDNS_WAIT:-1}
lab_ns=${LAB_NAMESPACE:-chaoslab}
while [[ $# -gt 0 ]]; do
  case $1 in
    --context) context=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --corefile) corefile=$2; shift 2 ;;
    --lab-namespace) lab_ns=$2; shift 2 ;;
    --namespace) ns=$2; shift 2 ;;
    --no-wait) wait=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown option '$1' (see --help)" ;;
  esac
done
cm=${COREDNS_CONFIGMAP:-coredns}
deploy=${COREDNS_DEPLOYMENT:-coredns}
container=${COREDNS_CONTAINER:-coredns}
backup=${COREDNS_BACKUP:-coredns-original}
timeout=${COREDNS_TIMEOUT:-180s}
managed_by=chaoslab-coredns-patch

if [[ -z ${KUBECTL:-} ]]; then
  if command -v kubectl >/dev/null; then KUBECTL=kubectl
  elif [[ -x $root/.tools/bin/kubectl ]]; then KUBECTL=$root/.tools/bin/kubectl
  else fail "kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/) or run 'make tools'"
  fi
fi
k() { "$KUBECTL" ${context:+--context "$context"} "$@"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[[ $lab_ns =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ && ${#lab_ns} -le 63 ]] \
  || fail "--lab-namespace '$lab_ns' is not a Kubernetes namespace name (lower-case letters, digits, '-')"

# The lab Corefile as written for the release's namespace: its rewrite targets name the
# Services of namespace `chaoslab`; another namespace gets its own.
lab_corefile() { # -> path of the Corefile to write
  if [[ $lab_ns == chaoslab ]]; then printf '%s' "$corefile"; return; fi
  sed "s/\.chaoslab\.svc\./.$lab_ns.svc./g" "$corefile" > "$tmp/Corefile.lab"
  printf '%s' "$tmp/Corefile.lab"
}

# Writes one data key of a ConfigMap to a file, exactly (no trailing-newline games).
cm_key_to_file() { # namespace name key file
  k -n "$1" get configmap "$2" -o go-template="{{with index .data \"$3\"}}{{.}}{{end}}" > "$4"
}

# Sets the Corefile key of the coredns ConfigMap to a file's bytes, leaving every other
# key, label and annotation alone (server-side apply of just that field).
set_corefile() { # file
  k -n "$ns" create configmap "$cm" --from-file=Corefile="$1" --dry-run=client -o yaml \
    | k apply --server-side --force-conflicts --field-manager="$managed_by" -f - >/dev/null
}

current_image() {
  k -n "$ns" get deployment "$deploy" \
    -o go-template="{{range .spec.template.spec.containers}}{{if eq .name \"$container\"}}{{.image}}{{end}}{{end}}"
}

set_image() { # image
  k -n "$ns" set image "deployment/$deploy" "$container=$1" >/dev/null
  if [[ $wait == 1 ]]; then
    say "waiting for the CoreDNS rollout ($1)"
    k -n "$ns" rollout status "deployment/$deploy" --timeout="$timeout" \
      || fail "CoreDNS did not roll out: kubectl -n $ns get pods; kubectl -n $ns logs deploy/$deploy"
  fi
}

# The kubelet refreshes a ConfigMap volume at its next sync of the pod; a pod update is
# one (kubernetes#30189), so annotate the CoreDNS pods to have the new Corefile now.
touch_pods() {
  local selector pods
  # shellcheck disable=SC2016  # a go-template, not shell
  selector=$(k -n "$ns" get deployment "$deploy" \
    -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
  selector=${selector%,}
  pods=$(k -n "$ns" get pods -l "$selector" -o name)
  if [[ -z $pods ]]; then
    say "no CoreDNS pods to annotate (selector $selector)"
    return
  fi
  # shellcheck disable=SC2086  # one argument per pod name
  k -n "$ns" annotate --overwrite $pods "chaoslab.io/corefile-synced-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
  say "annotated $(wc -w <<<"$pods") CoreDNS pod(s) for an immediate ConfigMap sync"
}

# NodeLocal DNSCache answers from a per-node cache before CoreDNS sees the query, so
# injected faults would not reach the pods (chaos-mesh/k8s_dns_chaos#15).
check_nodelocaldns() {
  local found
  found=$(k get daemonsets --all-namespaces -o go-template='{{range .items}}{{if or (eq .metadata.name "node-local-dns") (eq (index .metadata.labels "k8s-app") "node-local-dns")}}{{.metadata.namespace}}/{{.metadata.name}} {{end}}{{end}}' 2>/dev/null || true)
  if [[ -n $found ]]; then
    warn "NodeLocal DNSCache is running (${found% }): pods query its per-node cache, not CoreDNS, so"
    warn "the lab's DNS faults are masked (or delayed by its cache TTLs). Remove it for game days,"
    warn "or point the lab's processes at the CoreDNS Service directly (the chart's dns.server does)."
  fi
}

require_cluster_dns() {
  k -n "$ns" get configmap "$cm" -o name >/dev/null 2>&1 \
    || fail "ConfigMap $ns/$cm not found: is this a kind (kubeadm) cluster? (context: ${context:-current})"
  k -n "$ns" get deployment "$deploy" -o name >/dev/null 2>&1 \
    || fail "Deployment $ns/$deploy not found: is this a kind (kubeadm) cluster?"
}

have_backup() { k -n "$ns" get configmap "$backup" -o name >/dev/null 2>&1; }

do_apply() {
  [[ -f $corefile ]] || fail "lab Corefile not found: $corefile"
  require_cluster_dns
  check_nodelocaldns
  local old_image
  old_image=$(current_image)
  [[ -n $old_image ]] || fail "Deployment $ns/$deploy has no container named '$container'"
  if have_backup; then
    say "original already saved in $ns/$backup (kept: it is the pre-lab one)"
  else
    cm_key_to_file "$ns" "$cm" Corefile "$tmp/Corefile"
    [[ -s $tmp/Corefile ]] || fail "ConfigMap $ns/$cm has no Corefile key"
    if [[ -f $default_corefile ]] && ! cmp -s "$tmp/Corefile" "$default_corefile"; then
      warn "this cluster's Corefile is not kind's default one the lab Corefile was made from;"
      warn "it is saved and comes back on revert, but the lab Corefile replaces it meanwhile."
    fi
    k -n "$ns" create configmap "$backup" --from-file=Corefile="$tmp/Corefile" \
      --from-literal=image="$old_image" --from-literal=configmap="$cm" \
      --from-literal=deployment="$deploy" --from-literal=container="$container" >/dev/null
    k -n "$ns" label configmap "$backup" "app.kubernetes.io/managed-by=$managed_by" >/dev/null
    say "saved the original Corefile and image ($old_image) in $ns/$backup"
  fi
  if [[ $image == keep ]]; then
    say "keeping the CoreDNS image ($old_image)"
  elif [[ $old_image == "$image" ]]; then
    say "CoreDNS already runs $image"
  else
    say "CoreDNS image: $old_image -> $image"
    set_image "$image"
  fi
  set_corefile "$(lab_corefile)"
  say "wrote $(basename "$corefile") (Services of namespace $lab_ns) into $ns/$cm"
  touch_pods
  say "applied: *.aws.internal is served by the lab's CoreDNS (revert: $0 revert)"
}

do_revert() {
  if ! have_backup; then
    say "nothing to revert: no $ns/$backup (the cluster DNS is not patched)"
    return 0
  fi
  require_cluster_dns
  local saved_image
  cm_key_to_file "$ns" "$backup" Corefile "$tmp/Corefile"
  [[ -s $tmp/Corefile ]] || fail "$ns/$backup has no Corefile: restore $ns/$cm by hand"
  saved_image=$(k -n "$ns" get configmap "$backup" -o go-template='{{with index .data "image"}}{{.}}{{end}}')
  set_corefile "$tmp/Corefile"
  say "restored the original Corefile into $ns/$cm"
  if [[ -n $saved_image && $(current_image) != "$saved_image" ]]; then
    say "CoreDNS image: $(current_image) -> $saved_image"
    set_image "$saved_image"
  fi
  touch_pods
  k -n "$ns" delete configmap "$backup" >/dev/null
  say "reverted: the cluster DNS is as it was before the lab"
}

do_status() {
  require_cluster_dns
  check_nodelocaldns
  cm_key_to_file "$ns" "$cm" Corefile "$tmp/live"
  say "CoreDNS image: $(current_image)"
  if have_backup; then
    say "patched (original saved in $ns/$backup)"
  else
    say "not patched"
  fi
  if [[ -f $corefile ]] && cmp -s "$tmp/live" "$(lab_corefile)"; then
    say "Corefile: the lab Corefile, no fault injected"
  elif grep -q 'BEGIN chaoslab faults' "$tmp/live"; then
    say "Corefile: the lab Corefile with faults injected by the operator"
  else
    say "Corefile: not the lab's"
  fi
}

case $action in
  apply) do_apply ;;
  revert) do_revert ;;
  status) do_status ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
