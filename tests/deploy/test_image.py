"""The container image (Dockerfile) builds and serves: scripts/build_image.sh builds it with
podman on a Debian base (no registry here), `serve` starts from it on a free loopback port with a
model folder from `tailor fit` (the bundled Online Retail data) mounted read-only, answers 200 on
/health/ready and the same list as the host's pipeline for a customer, runs as the non-root user,
passes the image's own HEALTHCHECK, and stops on SIGTERM with status 0. The container is removed
whatever happens.

The base images and the dependency layer are cached (podman's storage, the wheel cache), so only
the first build on a machine is slow (docs/deploy.md, "Measured").
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tailor.pipeline import Pipeline, Query

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/tailor:test"
CUSTOMER = "17850"  # a customer of the bundled data's training part (the docs' example)

ModelJob = tuple[subprocess.Popen[str], Path]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "deploy" / "podman" / "containers.conf"))
    env["PYTHON"] = sys.executable
    return env


def _podman(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(
        ["podman", *args], env=_env(), capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def model_job(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ModelJob]:
    """EASE fitted with `tailor fit` on the bundled data's training part, in the background
    while the image builds (the two take minutes together on a busy machine)."""
    work = tmp_path_factory.mktemp("image-model")
    tailor = f"{shlex.quote(sys.executable)} -c 'from tailor.cli import main; main()'"
    script = (
        f"{tailor} data prepare online-retail --out prepared && "
        f"{tailor} data split prepared --strategy temporal --cut 2011-11-09 "
        "--validation-fraction 0 --out split && "
        f"{tailor} fit --train split/train.parquet --model ease --out model"
    )
    with (work / "fit.log").open("w") as log:  # a file, not a pipe: nothing can block
        job = subprocess.Popen(["bash", "-c", script], cwd=work, stdout=log,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    yield job, work / "model"
    if job.poll() is None:
        job.kill()
        job.wait()


@pytest.fixture(scope="module")
def image(require: Callable[[bool, str], None], model_job: ModelJob) -> str:
    """The image, built by scripts/build_image.sh (the documented podman path)."""
    usable = False
    if shutil.which("podman"):
        usable = subprocess.run(
            ["podman", "info"], env=_env(), capture_output=True, timeout=60
        ).returncode == 0  # fmt: skip
    require(
        usable,
        "podman is not installed or does not work here "
        "(apt-get install -y podman runc debootstrap; docs/deploy.md)",
    )
    start = time.monotonic()
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_image.sh"), TAG],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=2100,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    print(f"image built in {time.monotonic() - start:.0f} s")
    return TAG


@pytest.fixture(scope="module")
def model_dir(image: str, model_job: ModelJob) -> Path:
    job, model = model_job
    job.wait(timeout=600)
    assert job.returncode == 0, (model.parent / "fit.log").read_text()[-3000:]
    return model


@pytest.fixture
def container(image: str, model_dir: Path) -> Iterator[tuple[str, int]]:
    """`serve` from the image on a free loopback port; stopped and removed afterwards."""
    name = f"tailor-test-{uuid.uuid4().hex[:10]}"
    port = _free_port()
    _podman("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000",
            "--volume", f"{model_dir}:/models:ro", "--env", "TAILOR_MODEL_DIR=/models",
            image, "serve")  # fmt: skip
    try:
        yield name, port
    finally:
        _podman("rm", "--force", "--time", "5", name, check=False)


def _wait_ready(name: str, port: int, within_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        running = _podman("inspect", "--format", "{{.State.Running}}", name).strip()
        assert running == "true", _podman("logs", name, check=False)[-3000:]
        try:
            status, body = _get(port, "/health/ready")
        except OSError:
            status, body = 0, None
        if status == 200:
            return body  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, (status, body, _podman("logs", name, check=False))
        time.sleep(0.5)


def test_serve_from_the_image_answers_like_the_host(
    container: tuple[str, int], model_dir: Path
) -> None:
    name, port = container
    start = time.monotonic()
    ready = _wait_ready(name, port, within_s=180)
    print(f"ready {time.monotonic() - start:.1f} s after start")
    assert ready["status"] == "ok"
    assert ready["checks"]["model"] is True and ready["checks"]["fallback"] is True

    status, answer = _get(port, f"/v1/recommendations/{CUSTOMER}?n=5")
    assert status == 200, answer
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert answer["model_version"] == manifest["version"]
    assert answer["source"] in ("model", "cache")
    host = Pipeline.from_model_dir(model_dir).recommend_user(CUSTOMER, Query(n=5))
    assert [entry["item_id"] for entry in answer["items"]] == [i for i, _ in host.items]
    assert len(answer["items"]) == 5

    # the image's user and health check, as an orchestrator sees them
    assert _podman("exec", name, "id", "-u").strip() == "10001"
    healthcheck = _podman("inspect", "--format", "{{json .Config.Healthcheck}}", name)
    assert "/health/ready" in healthcheck
    assert subprocess.run(
        ["podman", "healthcheck", "run", name], env=_env(), capture_output=True, timeout=60
    ).returncode == 0  # fmt: skip

    # SIGTERM (what `podman stop`, Docker and Kubernetes send) drains and exits 0
    _podman("stop", "--time", "20", name, timeout=60)
    assert _podman("inspect", "--format", "{{.State.ExitCode}}", name).strip() == "0"
