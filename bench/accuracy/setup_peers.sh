#!/usr/bin/env bash
# Create bench/.venv-peers: tailor plus the peer libraries of the accuracy benchmark.
#
# Peers are never tailor dependencies; they live in this separate, git-ignored environment.
# Idempotent: each step is skipped when its package already imports. Fails loudly (set -e).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/bench/.venv-peers"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install -q -c "$ROOT/requirements/lock.txt")
PYTHON="${PYTHON:-python3.11}"

have() { "$PY" -c "import $1" >/dev/null 2>&1; }
step() { echo "[setup_peers] $*"; }

if [[ ! -x "$PY" ]]; then
    step "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# LightFM's setup.py only builds the legacy way (--no-use-pep517), which pip 25 removed.
"$PY" -m pip install -q "pip>=24,<25"

# torch first, pinned: any other version would download gigabytes (the CPU wheel lies on disk).
have torch || { step "torch==2.13.0"; "$PY" -m pip install -q "torch==2.13.0"; }

have tailor || { step "tailor (editable)"; "${PIP[@]}" -e "$ROOT[implicit]"; }

# build tools for the peers that compile from their sdists (LightFM, Surprise)
have Cython || { step "build tools"; "${PIP[@]}" numpy scipy cython setuptools wheel; }

have implicit || { step "implicit"; "${PIP[@]}" implicit; }

have lightfm || {
    # its setup.py sets a flag on __builtins__, which fails under the PEP 517 backend
    step "lightfm (from sdist)"
    "$PY" -m pip install -q --no-build-isolation --no-use-pep517 lightfm
}

have surprise || {
    step "scikit-surprise (from sdist)"
    "$PY" -m pip install -q --no-build-isolation scikit-surprise
}

# LensKit 2026.x needs Python >= 3.12.5; 2025.8.1 is the newest for 3.11 and pins pandas~=2.0,
# so this environment runs pandas 2.3 (tailor supports pandas >= 2.2).
LENSKIT="lenskit==2025.8.1"
"$PY" -c "import lenskit, sys; sys.exit(lenskit.__version__ != '${LENSKIT#*==}')" >/dev/null 2>&1 || {
    step "$LENSKIT"
    "$PY" -m pip install -q "$LENSKIT"
}

have optuna || { step "optuna"; "$PY" -m pip install -q optuna; }

"$PY" - <<'PYEOF'
import importlib

for name in ("torch", "tailor", "implicit", "lightfm", "surprise", "lenskit", "optuna"):
    mod = importlib.import_module(name)
    print(f"[setup_peers] {name} {getattr(mod, '__version__', '?')}")
PYEOF
