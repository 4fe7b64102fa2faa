#!/usr/bin/env bash
# Builds the node lab's container images without Docker and without a registry
# (`chaoslab node up` runs it; `charts/node-images.sh --help`):
#   chaoslab/python-base:bookworm  Debian bookworm's python3 (mmdebstrap), the Dockerfile's base
#   chaoslab/lab:TAG               ./Dockerfile, unchanged, built by buildah on that base
#   chaoslab/coredns:TAG           .tools/bin/coredns (CoreDNS + the chaoslab plugin), non-root,
#                                  cap_net_bind_service on the binary as in dns/coredns/Dockerfile
#   chaoslab/prometheus:TAG        Debian's prometheus binary (.tools/bin) with its libc
#   chaoslab/pause:K8S             pause.c of the pinned Kubernetes (.tools/bin/pause)
# Each image is written as an OCI archive to $CHAOSLAB_IMAGE_CACHE/images/NAME.tar, named
# docker.io/... as the kubelet looks it up; `ctr images import` loads it into the node's
# containerd. Cached: an image is rebuilt only when the hash of its inputs (sources,
# binaries, base) changes, so a second run takes seconds, and a fresh clone on a machine
# that built once (CI) reuses what is unchanged. buildah keeps its own storage there too,
# never the host's.
# Settings: IMAGE_TAG (default dev), CHAOSLAB_IMAGE_CACHE (default ~/.cache/chaoslab),
# FORCE=1 rebuilds all.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  "") ;;
  *) printf 'ERROR [images] unknown argument %s (see --help)\n' "$1" >&2; exit 2 ;;
esac
tag=${IMAGE_TAG:-dev}
cache=${CHAOSLAB_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chaoslab}
out=$cache/images
bin=$root/.tools/bin
store=$cache/buildah
K8S_PAUSE_TAG=3.10
mkdir -p "$out" "$store"

say() { printf '==> [images] %s\n' "$*"; }
fail() { printf 'ERROR [images] %s\n' "$*" >&2; exit 1; }
for cmd in buildah mmdebstrap; do
  command -v "$cmd" >/dev/null || fail "$cmd is missing: run 'make node-tools' (or: apt-get install $cmd)"
done
b() { buildah --root "$store/root" --runroot "$store/run" --storage-driver overlay "$@"; }

# hash_of FILE... -> one hash over the files' contents (not their paths: the script is run
# by relative and by absolute path)
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
fresh() { [[ ${FORCE:-0} != 1 && -f $out/$1.tar && -f $out/$1.hash && $(cat "$out/$1.hash") == "$2" ]]; }
export_image() { # stem ref hash
  rm -f "$out/$1.tar"
  b push -q "$2" "oci-archive:$out/$1.tar:$2" >/dev/null
  printf '%s' "$3" > "$out/$1.hash"
}

# A scratch image holding a few host files, each with the libraries it links.
# scratch_image stem ref hash user entrypoint-json file...
scratch_image() {
  local stem=$1 ref=$2 hash=$3 user=$4 entry=$5; shift 5
  local rootfs c f lib
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
  for f in "$@"; do
    install -D -m 0755 "${f%%=*}" "$rootfs/${f#*=}"
    # ldd prints "lib => /path (addr)" or "/lib64/ld-linux... (addr)"; static binaries none.
    while read -r lib; do
      [[ -n $lib ]] && install -D -m 0755 "$lib" "$rootfs$lib"
    done < <(ldd "${f%%=*}" 2>/dev/null | awk '/=>/ {print $3; next} /^\t\// {print $1}')
  done
  if [[ $stem == coredns ]]; then setcap cap_net_bind_service=+ep "$rootfs/coredns"; fi
  c=$(b from scratch)
  b copy "$c" "$rootfs/" / >/dev/null
  b config --user "$user" --entrypoint "$entry" --workingdir / \
    --label org.opencontainers.image.source=charts/node-images.sh "$c"
  b commit -q --rm "$c" "$ref" >/dev/null
  rm -rf "$rootfs"
  export_image "$stem" "$ref" "$hash"
}

# --- the Python base: Debian's python3, made by mmdebstrap -----------------------------
base_ref=docker.io/chaoslab/python-base:bookworm
base_hash=$(printf 'bookworm python3 python3-venv python-is-python3 ca-certificates passwd %s' \
  "$(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-16)" | sha256sum | cut -c1-16)
if [[ ${FORCE:-0} != 1 && -f $out/python-base.hash && $(cat "$out/python-base.hash") == "$base_hash" ]] \
  && b inspect "$base_ref" >/dev/null 2>&1; then
  say "$base_ref: cached"
else
  say "$base_ref: mmdebstrap of Debian bookworm with python3 (first time: ~1 min)"
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || fail "cannot find the Debian mirror in /etc/apt"
  tarball=$(mktemp --suffix=.tar)
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,python-is-python3,ca-certificates,passwd \
    bookworm "$tarball" "deb $mirror bookworm main" \
    || fail "mmdebstrap failed (see above)"
  c=$(b from scratch)
  b add "$c" "$tarball" / >/dev/null
  # The host's CA bundle: pip inside the build reaches the package index through the same
  # TLS setup as the host does.
  b copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  b config --cmd /bin/bash --env LANG=C.UTF-8 "$c"
  b commit -q --rm "$c" "$base_ref" >/dev/null
  rm -f "$tarball"
  printf '%s' "$base_hash" > "$out/python-base.hash"
fi

# --- the lab's Python image: the project's own Dockerfile, unchanged -------------------
lab_ref=docker.io/chaoslab/lab:$tag
# The build context is what .dockerignore lets in (the Python sources and pyproject.toml).
mapfile -t lab_inputs < <(cd "$root" && find pyproject.toml README.md Dockerfile .dockerignore \
  lab dns/chaoslab_dns operator services loadtest report -type f \
  ! -path '*/__pycache__/*' ! -name '*.py[co]' ! -path '*.egg-info/*' | sort)
lab_hash=$( (cd "$root" && sha256sum "${lab_inputs[@]}"; printf '%s' "$base_hash") | sha256sum | cut -c1-16)
if fresh lab "$lab_hash"; then
  say "$lab_ref: cached"
else
  say "$lab_ref: buildah bud of ./Dockerfile on $base_ref (first time: ~2 min)"
  b bud --quiet --isolation chroot --network host --pull=never --layers \
    --build-arg "PYTHON_IMAGE=$base_ref" -t "$lab_ref" -f "$root/Dockerfile" "$root" \
    || fail "building $lab_ref failed (see the build output above)"
  export_image lab "$lab_ref" "$lab_hash"
  b rmi --prune >/dev/null 2>&1 || true  # the previous build's layers
fi

# --- CoreDNS, Prometheus, pause: the binaries make tools built -------------------------
for f in coredns prometheus promtool pause; do
  [[ -x $bin/$f ]] || fail "$bin/$f is missing: run 'make node-tools'"
done
coredns_ref=docker.io/chaoslab/coredns:$tag
h=$(hash_of "$bin/coredns" "$0")
if fresh coredns "$h"; then say "$coredns_ref: cached"; else
  say "$coredns_ref: from $bin/coredns"
  scratch_image coredns "$coredns_ref" "$h" 65532:65532 '["/coredns"]' "$bin/coredns=/coredns"
fi
h=$(hash_of "$bin/prometheus" "$0")
prom_ref=docker.io/chaoslab/prometheus:$tag
if fresh prometheus "$h"; then say "$prom_ref: cached"; else
  say "$prom_ref: from $bin/prometheus (Debian's)"
  scratch_image prometheus "$prom_ref" "$h" 65534:65534 '["/bin/prometheus"]' \
    "$bin/prometheus=/bin/prometheus" "$bin/promtool=/bin/promtool"
fi
h=$(hash_of "$bin/pause" "$0")
pause_ref=docker.io/chaoslab/pause:$K8S_PAUSE_TAG
if fresh pause "$h"; then say "$pause_ref: cached"; else
  say "$pause_ref: from $bin/pause"
  scratch_image pause "$pause_ref" "$h" 65535:65535 '["/pause"]' "$bin/pause=/pause"
fi
say "images ready in $out"
