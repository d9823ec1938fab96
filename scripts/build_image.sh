#!/usr/bin/env bash
# Build tailor's image with podman where no registry or index can be reached from the build
# (docs/deploy.md): the Python base from scripts/container_base.sh, and a context holding the
# package, the lock and a wheelhouse built here, so the Dockerfile installs without an index.
#
#   scripts/build_image.sh [TAG]        (default localhost/tailor:latest; prints the tag)
#
# The dependency wheels are cached under $TAILOR_WHEEL_CACHE (default ~/.cache/tailor/wheelhouse),
# keyed by the lock, pyproject.toml and the extras, so a rebuild after a code change builds only
# tailor's own wheel and podman reuses the dependency layer.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-localhost/tailor:latest}"
PYTHON="${PYTHON:-.venv/bin/python}"
EXTRAS="${EXTRAS:-serve,stream,train}"  # the Dockerfile's default
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"

base="$(bash scripts/container_base.sh)"

# Wheels are resolved by an interpreter of the image's exact Python version: markers such as
# python_full_version < "3.11.3" (redis-py's async-timeout) differ between 3.11 releases.
# Debian's /usr/bin/python3 is the Debian base's; WHEEL_PYTHON names another.
image_py="$(podman run --rm --network none "$base" python3 -c 'import platform; print(platform.python_version())')"
WHEEL_PYTHON="${WHEEL_PYTHON:-/usr/bin/python3}"
wheel_py="$("$WHEEL_PYTHON" -c 'import platform; print(platform.python_version())')"
if [ "$image_py" != "$wheel_py" ]; then
    echo "the image's Python is $image_py but $WHEEL_PYTHON is $wheel_py: set WHEEL_PYTHON to" \
        "a Python $image_py with the venv module" >&2
    exit 2
fi

cache="${TAILOR_WHEEL_CACHE:-$HOME/.cache/tailor/wheelhouse}"
key="$(cat requirements/lock.txt pyproject.toml <(echo "$EXTRAS $image_py") | sha256sum | cut -c1-16)"
deps="$cache/$key"
if [ ! -d "$deps" ]; then
    pip_venv="$cache/python-$wheel_py"
    [ -x "$pip_venv/bin/pip" ] || "$WHEEL_PYTHON" -m venv "$pip_venv"
    staging="$deps.tmp-$$"
    rm -rf "$staging"
    "$pip_venv/bin/pip" wheel -q -w "$staging" -c requirements/lock.txt ".[$EXTRAS]"
    rm -f "$staging"/tailor_recsys-*.whl
    mv "$staging" "$deps"  # whole or not at all: a killed run leaves only the .tmp folder
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/requirements" "$ctx/wheelhouse/app"
cp pyproject.toml README.md .dockerignore "$ctx/"
cp requirements/lock.txt "$ctx/requirements/"
cp -r src "$ctx/src"
find "$ctx/src" -name __pycache__ -prune -exec rm -rf {} +
cp -al "$deps" "$ctx/wheelhouse/deps" 2>/dev/null || cp -a "$deps" "$ctx/wheelhouse/deps"
"$PYTHON" -m pip wheel -q --no-deps -w "$ctx/wheelhouse/app" "$ctx"

podman build --isolation chroot --network host --format docker \
    --build-arg "BASE=$base" --build-arg "EXTRAS=$EXTRAS" -f Dockerfile -t "$TAG" "$ctx" >&2
echo "$TAG"
