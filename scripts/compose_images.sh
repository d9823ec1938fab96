#!/usr/bin/env bash
# The images deploy/compose.yaml runs, built here where no registry can be reached
# (docs/deploy.md, "Compose with podman"): tailor's (scripts/build_image.sh) and Debian stand-ins
# for Redis and PostgreSQL. Each is reused while podman's storage holds it. Prints the variables
# to export for compose.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
bash scripts/container_base.sh >/dev/null
for name in redis postgres; do
    if ! podman image exists "localhost/$name:bookworm"; then
        podman build --isolation chroot --network host -f "deploy/podman/$name.Containerfile" \
            -t "localhost/$name:bookworm" deploy/podman >&2
    fi
done
tailor="$(bash scripts/build_image.sh localhost/tailor:latest)"
echo "export TAILOR_IMAGE=$tailor REDIS_IMAGE=localhost/redis:bookworm POSTGRES_IMAGE=localhost/postgres:bookworm"
