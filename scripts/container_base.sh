#!/usr/bin/env bash
# Base images for building tailor's image with podman where no registry can be reached
# (docs/deploy.md): a Debian bookworm root from debootstrap, then Debian's Python 3.11 on it.
# Each image is built once and reused while podman's storage holds it; prints the Python base.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
DEBIAN_IMAGE="${DEBIAN_IMAGE:-localhost/debian-base:bookworm}"
PYTHON_IMAGE="${PYTHON_IMAGE:-localhost/tailor-python:3.11-bookworm}"
# the mirror this machine's apt uses (deb822 sources first, then a classic sources.list)
MIRROR="${MIRROR:-$(grep -hoE '^URIs: *\S+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | head -1 | awk '{print $2}')}"
MIRROR="${MIRROR:-$(grep -hoE '^deb +\S+/debian/? ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

if ! podman image exists "$DEBIAN_IMAGE"; then
    rootfs="$(mktemp -d)"
    trap 'rm -rf "$rootfs"' EXIT
    echo "debootstrap bookworm from $MIRROR (about 30 s)" >&2
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >&2
    tar -C "$rootfs" -c . | podman import - "$DEBIAN_IMAGE" >&2
fi
if ! podman image exists "$PYTHON_IMAGE"; then
    podman build --isolation chroot --network host --build-arg "DEBIAN=$DEBIAN_IMAGE" \
        -f deploy/podman/python-base.Containerfile -t "$PYTHON_IMAGE" deploy/podman >&2
fi
echo "$PYTHON_IMAGE"
