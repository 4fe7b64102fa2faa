#!/usr/bin/env bash
# Builds the lab's two container images (`make images`):
#   chaoslab/lab:TAG      the one Python image: services, bootstrap, operator, Locust (./Dockerfile)
#   chaoslab/coredns:TAG  CoreDNS with the chaoslab plugin (dns/coredns/Dockerfile)
# TAG is $IMAGE_TAG (default dev, what charts/chaoslab/values.yaml and coredns-patch.sh use).
# Extra `docker build` arguments can be passed in DOCKER_BUILD_ARGS, e.g. --no-cache.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tag=${IMAGE_TAG:-dev}
lab_image=${LAB_IMAGE:-chaoslab/lab}:$tag
coredns_image=${COREDNS_IMAGE_NAME:-chaoslab/coredns}:$tag
read -r -a extra <<<"${DOCKER_BUILD_ARGS:-}"

say() { printf '==> [images] %s\n' "$*"; }
fail() { printf 'ERROR [images] %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed: https://docs.docker.com/engine/install/"
docker info >/dev/null 2>&1 || fail "the Docker daemon is not reachable: start Docker (or check 'docker info')"

# Both Dockerfiles use BuildKit features (cache mounts), the default builder since Docker 23.
export DOCKER_BUILDKIT=1

say "building $lab_image (context: repository root)"
docker build ${extra[@]+"${extra[@]}"} -t "$lab_image" -f "$root/Dockerfile" "$root"

say "building $coredns_image (context: dns/coredns)"
docker build ${extra[@]+"${extra[@]}"} -t "$coredns_image" -f "$root/dns/coredns/Dockerfile" "$root/dns/coredns"

say "built $lab_image and $coredns_image"
