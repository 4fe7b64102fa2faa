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
#      chaoslab plugin; the stock Corefile runs on it unchanged) and, unless --projector off,
#      adds the projector sidecar (below): one rollout, waited for;
#   3. writes the lab Corefile (the aws.internal zone, the operator's marker lines) into the
#      coredns ConfigMap, changing only its Corefile key: with the projector it has no
#      `reload` (SIGUSR1 is its one reload mechanism: a SIGUSR1 breaks the reload plugin,
#      coredns#6263), without it `reload 2s 0s`;
#   4. annotates the CoreDNS pods so the kubelet syncs the ConfigMap volume now instead
#      of at its next periodic sync (kubernetes#30189).
# The projector sidecar (`python -m chaoslab.local.projector`, from the lab image) watches the
# ConfigMap through the API (Role chaoslab-coredns-projector: get/list/watch on that one
# ConfigMap, bound to the pod's ServiceAccount), writes the Corefile into an emptyDir that
# CoreDNS reads in place of the ConfigMap volume (an init container first copies the
# kubelet-projected ConfigMap into it, so a new pod starts from the ConfigMap) and SIGUSR1s
# CoreDNS (shareProcessNamespace): a fault is live within a second instead of after the
# kubelet's sync. While the API is unreachable it follows the kubelet's copy instead.
# A second apply converges: `--projector off` takes the sidecar out again.
# revert undoes 3, 2 and 1 in reverse order and deletes the saved copy, leaving each field
# of the Deployment it touched as it was, byte for byte; with nothing saved it says so and
# succeeds ("already reverted" is not an error).
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
#   --projector on|off  COREDNS_PROJECTOR   the projector sidecar (default on; off: the kubelet's
#                                           ConfigMap sync + `reload 2s 0s`, ~10 s on kind)
#   --projector-image I PROJECTOR_IMAGE     its image, the lab's (default chaoslab/lab:dev)
#   KUBECTL (kubectl binary), COREDNS_CONFIGMAP (coredns), COREDNS_DEPLOYMENT (coredns),
#   COREDNS_CONTAINER (coredns), COREDNS_BACKUP (coredns-original), COREDNS_TIMEOUT (180s),
#   COREDNS_VOLUME (config-volume: the ConfigMap volume CoreDNS reads its Corefile from),
#   PROJECTOR_UID (65532: CoreDNS's user, which the sidecar shares so that it may signal it)
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
projector=${COREDNS_PROJECTOR:-on}
projector_image=${PROJECTOR_IMAGE:-chaoslab/lab:dev}
while [[ $# -gt 0 ]]; do
  case $1 in
    --context) context=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --corefile) corefile=$2; shift 2 ;;
    --lab-namespace) lab_ns=$2; shift 2 ;;
    --namespace) ns=$2; shift 2 ;;
    --no-wait) wait=0; shift ;;
    --projector) projector=$2; shift 2 ;;
    --projector-image) projector_image=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown option '$1' (see --help)" ;;
  esac
done
cm=${COREDNS_CONFIGMAP:-coredns}
deploy=${COREDNS_DEPLOYMENT:-coredns}
container=${COREDNS_CONTAINER:-coredns}
backup=${COREDNS_BACKUP:-coredns-original}
timeout=${COREDNS_TIMEOUT:-180s}
volume=${COREDNS_VOLUME:-config-volume}
projector_uid=${PROJECTOR_UID:-65532}
managed_by=chaoslab-coredns-patch
# What the projector adds to the CoreDNS pod, by name (revert removes exactly these).
sidecar=chaoslab-projector
seed=chaoslab-corefile-seed
source_volume=chaoslab-corefile-source
source_dir=/etc/chaoslab/coredns-configmap
rbac_name=chaoslab-coredns-projector
projector_port=9154
case $projector in
  on|1|true) projector=on ;;
  off|0|false) projector=off ;;
  *) fail "--projector '$projector': want on or off" ;;
esac
[[ $projector_uid =~ ^[0-9]+$ ]] || fail "PROJECTOR_UID '$projector_uid' is not a number"

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
# Services of namespace `chaoslab`; another namespace gets its own. With the projector it
# has no `reload` line: the projector's SIGUSR1 is its one reload mechanism (coredns#6263).
lab_corefile() { # -> path of the Corefile to write
  if [[ $lab_ns == chaoslab && $projector == off ]]; then printf '%s' "$corefile"; return; fi
  local drop='/^[[:space:]]*reload([[:space:]]|$)/d'
  [[ $projector == on ]] || drop=''
  sed -E -e "s/\.chaoslab\.svc\./.$lab_ns.svc./g" -e "$drop" "$corefile" > "$tmp/Corefile.lab"
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

# The Deployment's pod template, by go-template and by jsonpath.
tpl() { k -n "$ns" get deployment "$deploy" -o go-template="$1"; }
jp() { k -n "$ns" get deployment "$deploy" -o jsonpath="$1"; }
index_of() { # list name -> index in .spec.template.spec.<list> of the element of that name
  # shellcheck disable=SC2016  # a go-template, not shell
  tpl '{{range $i, $e := .spec.template.spec.'"$1"'}}{{if eq $e.name "'"$2"'"}}{{$i}}{{end}}{{end}}'
}
has_sidecar() { [[ -n $(index_of containers "$sidecar") ]]; }
saved() { # key -> the value saved in the backup ConfigMap (empty if none)
  k -n "$ns" get configmap "$backup" -o go-template="{{with index .data \"$1\"}}{{.}}{{end}}"
}

# One JSON patch of the Deployment (so one rollout), then the wait for it.
patch_deployment() { # why op-json...
  local why=$1 ops
  shift
  [[ $# -gt 0 ]] || return 0
  ops=$(IFS=,; printf '[%s]' "$*")
  k -n "$ns" patch deployment "$deploy" --type=json -p "$ops" >/dev/null
  if [[ $wait == 1 ]]; then
    say "waiting for the CoreDNS rollout ($why)"
    k -n "$ns" rollout status "deployment/$deploy" --timeout="$timeout" \
      || fail "CoreDNS did not roll out: kubectl -n $ns get pods; kubectl -n $ns logs deploy/$deploy"
  fi
}

image_op() { # image -> the op that sets the CoreDNS container's image
  printf '{"op":"replace","path":"/spec/template/spec/containers/%s/image","value":"%s"}' \
    "$(index_of containers "$container")" "$1"
}

# The projector's RBAC: read the one ConfigMap and nothing else. A container cannot have a
# ServiceAccount of its own, so the sidecar's Role is bound to the pod's ServiceAccount.
apply_rbac() {
  local sa
  sa=$(jp '{.spec.template.spec.serviceAccountName}')
  k apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: $rbac_name
  namespace: $ns
  labels: {app.kubernetes.io/managed-by: $managed_by}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    resourceNames: [$cm]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: $rbac_name
  namespace: $ns
  labels: {app.kubernetes.io/managed-by: $managed_by}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $rbac_name}
subjects:
  - {kind: ServiceAccount, name: ${sa:-default}, namespace: $ns}
YAML
}
delete_rbac() { k -n "$ns" delete rolebinding,role "$rbac_name" --ignore-not-found >/dev/null; }

# The ops that add the projector, one JSON op a line: the init copy and the sidecar, the
# emptyDir in place of the ConfigMap volume (which moves, as it was, to a second volume for
# the copy and the sidecar's fallback) and shareProcessNamespace (to signal CoreDNS).
# Non-root as CoreDNS's user (a signal needs the same UID), read-only root, no capability.
projector_ops() {
  local vol vidx inits sc mounts init side
  vidx=$(index_of volumes "$volume")
  [[ -n $vidx ]] || fail "Deployment $ns/$deploy has no volume '$volume' (COREDNS_VOLUME)"
  vol=$(jp "{.spec.template.spec.volumes[$vidx]}")
  [[ $vol == *'"configMap":'* ]] || fail "volume '$volume' is not a ConfigMap volume: $vol"
  sc='{"runAsNonRoot":true,"runAsUser":'$projector_uid',"runAsGroup":'$projector_uid',"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}}'
  mounts='[{"name":"'$volume'","mountPath":"/etc/coredns"},{"name":"'$source_volume'","mountPath":"'$source_dir'","readOnly":true}]'
  init='{"name":"'$seed'","image":"'$projector_image'","imagePullPolicy":"IfNotPresent","args":["cp","'$source_dir'/Corefile","/etc/coredns/Corefile"],"resources":{"requests":{"cpu":"10m","memory":"16Mi"},"limits":{"memory":"64Mi"}},"securityContext":'$sc',"volumeMounts":'$mounts'}'
  # The projector runs under a shell loop that restarts it a second after it dies, so the
  # container (whose readiness is the CoreDNS pod's, i.e. its place in the DNS Service)
  # stays up. No readinessProbe, on purpose: a projector problem must never take CoreDNS
  # out of the Service; /readyz says why it is degraded. The liveness probe restarts a wedged one.
  side='{"name":"'$sidecar'","image":"'$projector_image'","imagePullPolicy":"IfNotPresent","args":["sh","-c","while :; do python -m chaoslab.local.projector \"$@\"; echo \"projector exited ($?): restarting in 1s\" >&2; sleep 1; done","projector","--configmap","'$ns/$cm'","--key","Corefile","--out","/etc/coredns/Corefile","--follow-file","'$source_dir'/Corefile","--signal-process","coredns","--http","0.0.0.0:'$projector_port'"],"livenessProbe":{"httpGet":{"path":"/livez","port":'$projector_port'},"initialDelaySeconds":20,"periodSeconds":10,"timeoutSeconds":3,"failureThreshold":6},"resources":{"requests":{"cpu":"10m","memory":"48Mi"},"limits":{"memory":"160Mi"}},"securityContext":'$sc',"volumeMounts":'$mounts'}'
  inits=$(tpl '{{with .spec.template.spec.initContainers}}{{len .}}{{else}}0{{end}}')
  if [[ $inits == 0 ]]; then
    printf '%s\n' '{"op":"add","path":"/spec/template/spec/initContainers","value":['"$init"']}'
  else
    printf '%s\n' '{"op":"add","path":"/spec/template/spec/initContainers/-","value":'"$init"'}'
  fi
  printf '%s\n' '{"op":"add","path":"/spec/template/spec/containers/-","value":'"$side"'}'
  printf '%s\n' '{"op":"add","path":"/spec/template/spec/volumes/-","value":'"${vol/\"name\":\"$volume\"/\"name\":\"$source_volume\"}"'}'
  printf '%s\n' '{"op":"replace","path":"/spec/template/spec/volumes/'"$vidx"'","value":{"name":"'"$volume"'","emptyDir":{"sizeLimit":"1Mi"}}}'
  printf '%s\n' '{"op":"add","path":"/spec/template/spec/shareProcessNamespace","value":true}'
}

# The ops that take the projector out, each touched field back as saved before the first
# apply. Within a list, removals go from the highest index down, so the others stay valid.
unprojector_ops() {
  local vol spn inits idx
  vol=$(saved volume)
  spn=$(saved share-process-namespace)
  inits=$(saved init-containers)
  [[ -n $vol ]] || fail "$ns/$backup has no saved volume: remove the $sidecar sidecar by hand"
  idx=$(index_of containers "$sidecar")
  [[ -n $idx ]] && printf '%s\n' '{"op":"remove","path":"/spec/template/spec/containers/'"$idx"'"}'
  idx=$(index_of initContainers "$seed")
  if [[ -n $idx ]]; then
    if [[ ${inits:-0} == 0 && $(tpl '{{len .spec.template.spec.initContainers}}') == 1 ]]; then
      printf '%s\n' '{"op":"remove","path":"/spec/template/spec/initContainers"}'
    else
      printf '%s\n' '{"op":"remove","path":"/spec/template/spec/initContainers/'"$idx"'"}'
    fi
  fi
  idx=$(index_of volumes "$source_volume")
  [[ -n $idx ]] && printf '%s\n' '{"op":"remove","path":"/spec/template/spec/volumes/'"$idx"'"}'
  idx=$(index_of volumes "$volume")
  [[ -n $idx ]] && printf '%s\n' '{"op":"replace","path":"/spec/template/spec/volumes/'"$idx"'","value":'"$vol"'}'
  if [[ -z $spn ]]; then
    if [[ -n $(jp '{.spec.template.spec.shareProcessNamespace}') ]]; then
      printf '%s\n' '{"op":"remove","path":"/spec/template/spec/shareProcessNamespace"}'
    fi
  else
    printf '%s\n' '{"op":"replace","path":"/spec/template/spec/shareProcessNamespace","value":'"$spn"'}'
  fi
  return 0
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
  local old_image vidx early=0 ops=() why=()
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
    has_sidecar && fail "the $sidecar sidecar is there but $ns/$backup is not: remove it by hand"
    # The pod template's fields the projector changes, as they are, for revert.
    vidx=$(index_of volumes "$volume")
    printf '%s' "$(if [[ -n $vidx ]]; then jp "{.spec.template.spec.volumes[$vidx]}"; fi)" > "$tmp/volume"
    k -n "$ns" create configmap "$backup" --from-file=Corefile="$tmp/Corefile" \
      --from-literal=image="$old_image" --from-literal=configmap="$cm" \
      --from-literal=deployment="$deploy" --from-literal=container="$container" \
      --from-file=volume="$tmp/volume" \
      --from-literal=share-process-namespace="$(jp '{.spec.template.spec.shareProcessNamespace}')" \
      --from-literal=init-containers="$(tpl '{{with .spec.template.spec.initContainers}}{{len .}}{{else}}0{{end}}')" \
      >/dev/null
    k -n "$ns" label configmap "$backup" "app.kubernetes.io/managed-by=$managed_by" >/dev/null
    say "saved the original Corefile, image ($old_image) and pod volumes in $ns/$backup"
  fi
  if [[ $image == keep ]]; then
    say "keeping the CoreDNS image ($old_image)"
  elif [[ $old_image == "$image" ]]; then
    say "CoreDNS already runs $image"
  else
    say "CoreDNS image: $old_image -> $image"
    ops+=("$(image_op "$image")"); why+=("$image")
  fi
  if [[ $projector == on ]]; then
    apply_rbac
    if has_sidecar; then
      say "the projector sidecar is there already"
    else
      say "adding the projector sidecar ($projector_image): faults reach CoreDNS at once"
      projector_ops > "$tmp/ops"
      mapfile -t -O "${#ops[@]}" ops < "$tmp/ops"
      why+=("projector sidecar")
      early=1
    fi
  elif has_sidecar; then
    say "taking the projector sidecar out (--projector off)"
    unprojector_ops > "$tmp/ops"
    mapfile -t -O "${#ops[@]}" ops < "$tmp/ops"
    why+=("no projector sidecar")
    early=1
  fi
  # When the sidecar comes or goes, the Corefile of the new mode first, so that the new pods
  # start with it: with the sidecar none may ever run a `reload` (after the projector's
  # first SIGUSR1 its restarts fail, coredns#6263), without it every one needs `reload`.
  if [[ $early == 1 ]]; then set_corefile "$(lab_corefile)"; fi
  patch_deployment "$(IFS=,; printf '%s' "${why[*]}")" ${ops[@]+"${ops[@]}"}
  if [[ $projector == off ]]; then delete_rbac; fi
  set_corefile "$(lab_corefile)"
  say "wrote $(basename "$corefile") (Services of namespace $lab_ns, projector $projector) into $ns/$cm"
  touch_pods
  say "applied: *.aws.internal is served by the lab's CoreDNS (revert: $0 revert)"
}

do_revert() {
  if ! have_backup; then
    say "nothing to revert: no $ns/$backup (the cluster DNS is not patched)"
    return 0
  fi
  require_cluster_dns
  local saved_image ops=() why=()
  cm_key_to_file "$ns" "$backup" Corefile "$tmp/Corefile"
  [[ -s $tmp/Corefile ]] || fail "$ns/$backup has no Corefile: restore $ns/$cm by hand"
  saved_image=$(saved image)
  # The original Corefile first: a projector still running brings it to CoreDNS at once.
  set_corefile "$tmp/Corefile"
  say "restored the original Corefile into $ns/$cm"
  if [[ -n $saved_image && $(current_image) != "$saved_image" ]]; then
    say "CoreDNS image: $(current_image) -> $saved_image"
    ops+=("$(image_op "$saved_image")"); why+=("$saved_image")
  fi
  if has_sidecar; then
    say "taking the projector sidecar out"
    unprojector_ops > "$tmp/ops"
    mapfile -t -O "${#ops[@]}" ops < "$tmp/ops"
    why+=("no projector sidecar")
  fi
  patch_deployment "$(IFS=,; printf '%s' "${why[*]}")" ${ops[@]+"${ops[@]}"}
  delete_rbac
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
  if has_sidecar; then
    projector=on
    say "projector sidecar: on (faults reach CoreDNS at once)"
  else
    projector=off
    say "projector sidecar: off (faults wait for the kubelet's ConfigMap sync)"
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
