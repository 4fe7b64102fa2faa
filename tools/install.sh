#!/usr/bin/env bash
# Installs the lab's real binaries into .tools/bin, each at a pinned version.
# Idempotent: a step whose stamp matches is skipped, so a second run takes seconds.
# Go builds use the shared Go module and build caches, so a fresh clone on a machine
# that built once before relinks in well under a minute.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
stamps="$tools/stamps"
mkdir -p "$bin" "$stamps"

K8S_VERSION=v1.34.4          # kube-apiserver, kubectl (tools/k8s/go.mod pins the same)
HELM_VERSION=v3.19.5         # helm
HELM_K8S_MINOR=34            # the Kubernetes minor of Helm v3.19's client-go
ETCD_SUITE=trixie            # etcd-server 3.5.x: Kubernetes 1.34 wants etcd >= 3.5; bookworm has 3.4
PROMETHEUS_SUITE=bookworm    # prometheus 2.42 from the machine's own Debian release

step() { printf '==> [tools] %s\n' "$*"; }
fail() { printf 'ERROR [tools] %s\n' "$*" >&2; exit 1; }

# A stamp records what was installed; the step reruns when the wanted value changes.
fresh() { # name wanted binary...
  local name=$1 wanted=$2; shift 2
  [[ -f "$stamps/$name" && "$(cat "$stamps/$name")" == "$wanted" ]] || return 1
  local b; for b in "$@"; do [[ -x "$bin/$b" ]] || return 1; done
}
stamp() { printf '%s' "$2" > "$stamps/$1"; }

# `tools/install.sh [STEP...]` runs only the named steps (k8s coredns helm etcd prometheus dig
# chromium tmux dnsperf).
only=" $* "
want() { [[ "$only" == "  " || "$only" == *" $1 "* ]]; }

command -v go >/dev/null || fail "go is not installed; the lab builds CoreDNS, Kubernetes and Helm from their Go modules"

# --- kube-apiserver + kubectl -------------------------------------------------
if ! want k8s; then :
elif fresh k8s "$K8S_VERSION" kube-apiserver kubectl; then
  step "kube-apiserver, kubectl $K8S_VERSION: cached"
else
  step "kube-apiserver, kubectl $K8S_VERSION: building from k8s.io/kubernetes (first time: 10-20 min on 2 cores)"
  # The version stamps are what `make release` would set; kubectl and helm read them.
  vpkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ldflags="-s -w"
  for p in "${vpkgs[@]}"; do
    ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  (cd "$root/tools/k8s" && go build -trimpath -ldflags="$ldflags" -o "$bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) \
    || fail "building kube-apiserver/kubectl failed (see the go output above)"
  stamp k8s "$K8S_VERSION"
fi

# --- coredns with the chaoslab plugin ------------------------------------------
# The stamp is a hash of the build module and the plugin source, so editing the plugin rebuilds.
coredns_src="$root/dns/coredns"
if want coredns; then
coredns_hash=$(cd "$coredns_src" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if fresh coredns "$coredns_hash" coredns; then
  step "coredns (with chaoslab plugin): cached"
else
  step "coredns (with chaoslab plugin): building from github.com/coredns/coredns (first time: ~3 min)"
  (cd "$coredns_src" && go build -trimpath -ldflags='-s -w' -o "$bin/coredns" .) \
    || fail "building coredns failed (see the go output above)"
  stamp coredns "$coredns_hash"
fi
fi

# --- helm ----------------------------------------------------------------------
if ! want helm; then :
elif fresh helm "$HELM_VERSION+k8s1.$HELM_K8S_MINOR" helm; then
  step "helm $HELM_VERSION: cached"
else
  step "helm $HELM_VERSION: building from helm.sh/helm/v3 (first time: ~3 min)"
  # The same version stamps Helm's own Makefile sets (its Kubernetes minor from its client-go).
  h=helm.sh/helm/v3
  hflags="-s -w -X $h/internal/version.version=$HELM_VERSION -X $h/internal/version.gitTreeState=clean"
  for p in pkg/lint/rules pkg/chartutil; do
    hflags+=" -X $h/$p.k8sVersionMajor=1 -X $h/$p.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  GOBIN="$bin" go install -trimpath -ldflags="$hflags" "$h/cmd/helm@$HELM_VERSION" \
    || fail "building helm failed (see the go output above)"
  stamp helm "$HELM_VERSION+k8s1.$HELM_K8S_MINOR"
fi

# --- Debian packages: etcd, prometheus -----------------------------------------
# Fetched with apt into a private list/cache under .tools/apt and unpacked with dpkg -x, so
# the machine's own apt configuration is never changed. The mirror is the one the machine
# already uses; only the suite differs.
apt_root="$tools/apt"
debian_uri() {
  local u
  u=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n "$u" ]] || u=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n "$u" ]] || fail "cannot find the Debian mirror in /etc/apt; install etcd-server and prometheus by hand"
  printf '%s' "$u"
}
apt_opts=()
apt_prepare() { # suite
  local suite=$1 dir="$apt_root/$1"
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$(debian_uri)" "$suite" > "$dir/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=-"
            -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache::Archives=$dir/archives"
            -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
  if [[ ! -f "$dir/updated" ]]; then
    apt-get -qq "${apt_opts[@]}" update || fail "apt-get update for Debian $suite failed"
    touch "$dir/updated"
  fi
}
deb_binary() { # suite package binary-path-in-deb name [more binaries from usr/bin]
  local suite=$1 pkg=$2 path=$3 name=$4 ver dir
  apt_prepare "$suite"
  ver=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/{print $2}')
  [[ -n "$ver" && "$ver" != "(none)" ]] || fail "Debian $suite has no package $pkg"
  if fresh "$name" "$pkg=$ver" "$name" "${@:5}"; then step "$name ($pkg $ver from Debian $suite): cached"; return; fi
  step "$name ($pkg $ver from Debian $suite): downloading"
  dir="$apt_root/$suite/unpack-$pkg"
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && apt-get -qq "${apt_opts[@]}" download "$pkg=$ver") || fail "apt-get download $pkg failed"
  dpkg -x "$dir"/*.deb "$dir/root" || fail "unpacking $pkg failed"
  install -m 0755 "$dir/root/$path" "$bin/$name"
  for extra in "${@:5}"; do install -m 0755 "$dir/root/usr/bin/$extra" "$bin/$extra"; done
  stamp "$name" "$pkg=$ver"
}
if want etcd; then deb_binary "$ETCD_SUITE" etcd-server usr/bin/etcd etcd; fi
if want prometheus; then deb_binary "$PROMETHEUS_SUITE" prometheus usr/bin/prometheus prometheus promtool; fi

# --- Debian packages installed system-wide -------------------------------------
# dig: tests query CoreDNS with dig as well as dnspython. chromium: a test opens the
# game-day report in headless Chromium and checks the console is clean. tmux: a test runs
# `chaoslab watch` in a real terminal and reads the screen back.
system_package() { # command package
  local cmd=$1 pkg=$2
  if command -v "$cmd" >/dev/null; then step "$cmd: present ($(command -v "$cmd"))"; return; fi
  step "$cmd: installing Debian's $pkg"
  [[ $(id -u) -eq 0 ]] || fail "$cmd is missing; run: sudo apt-get install $pkg"
  if [[ ! -f "$tools/apt/system-updated" ]]; then
    apt-get -qq update || fail "apt-get update failed"
    mkdir -p "$tools/apt"; touch "$tools/apt/system-updated"
  fi
  apt-get -qq install -y --no-install-recommends "$pkg" >/dev/null || fail "apt-get install $pkg failed"
}
if want dig; then system_package dig dnsutils; fi
if want chromium; then system_package chromium chromium; fi
if want tmux; then system_package tmux tmux; fi
# dnsperf: the field's DNS load generator, for benchmarks/dns_qps.py (a Python loader
# saturates before CoreDNS does).
if want dnsperf; then system_package dnsperf dnsperf; fi

# --- the node lab: kubelet & co., the pause image's binary, Debian's runtime -------------
# Only `tools/install.sh node` (make node-tools: the node lab and its tests) builds these;
# `make demo` and the local lab never need them.
if [[ "$only" == *" node "* ]]; then
  node_bins=(kubelet kube-controller-manager kube-scheduler kube-proxy)
  if fresh node "$K8S_VERSION" "${node_bins[@]}"; then
    step "kubelet, kube-proxy, kube-scheduler, kube-controller-manager $K8S_VERSION: cached"
  else
    step "kubelet, kube-proxy, kube-scheduler, kube-controller-manager $K8S_VERSION: building (first time: ~6 min on 2 cores)"
    minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    ldflags="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    done
    (cd "$root/tools/k8s" && go build -trimpath -ldflags="$ldflags" -o "$bin/" \
        "${node_bins[@]/#/k8s.io/kubernetes/cmd/}") \
      || fail "building the node's Kubernetes binaries failed (see the go output above)"
    stamp node "$K8S_VERSION"
  fi
  # The pause container's program ships as C source in the Kubernetes module; a static
  # build is the whole image (charts/node-images.sh packs it).
  if fresh pause "$K8S_VERSION" pause; then
    step "pause $K8S_VERSION: cached"
  else
    step "pause $K8S_VERSION: compiling build/pause/linux/pause.c"
    command -v gcc >/dev/null || fail "gcc is missing: run: apt-get install gcc libc6-dev"
    src=$(cd "$root/tools/k8s" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
    [[ -f $src ]] || (cd "$root/tools/k8s" && go mod download k8s.io/kubernetes)
    gcc -Os -static -DVERSION="$K8S_VERSION" -o "$bin/pause" "$src" \
      || fail "compiling pause.c failed (needs the static C library: apt-get install libc6-dev)"
    strip "$bin/pause" || true
    stamp pause "$K8S_VERSION"
  fi
  # containerd + runc run the pods; the CNI plugins wire them; buildah and mmdebstrap
  # make the images without a registry; iptables (and conntrack) for kube-proxy and the
  # host-safety rule.
  system_package containerd containerd
  system_package runc runc
  system_package /usr/lib/cni/bridge containernetworking-plugins
  system_package buildah buildah
  system_package mmdebstrap mmdebstrap
  system_package iptables iptables
  system_package conntrack conntrack
  system_package setcap libcap2-bin
fi

step "all tools ready in $bin"
