"""The deployment files: every Kubernetes manifest validates against the API schemas of the
oldest and newest Kubernetes versions we state (kubernetes-validate, strict: unknown fields
fail), the workloads agree with each other and with the image (ports, probes, user, selectors),
kustomization.yaml lists every manifest, checkov passes the manifests and the Dockerfile (each
skipped check justified inline), hadolint passes the Dockerfile and the Containerfiles, and the
compose and Swarm files validate against their schemas (docker-compose, docker stack config).
Each validator is also shown a broken file, so none of these can pass by not looking."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # docs/deploy.md states this range
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
HADOLINT = Path(sys.executable).parent / "hadolint"
UID = 10001  # the Dockerfile's USER


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _all_docs() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for p in MANIFESTS for d in _docs(p)}


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]


WORKLOADS = ("Deployment", "CronJob")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_the_kubernetes_schema(path: Path, version: str) -> None:
    for doc in _docs(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    (doc,) = _docs(K8S / "serve-deployment.yaml")
    doc["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[0], strict=True)
    (doc,) = _docs(K8S / "serve-deployment.yaml")
    doc["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # a typo'd field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]
    assert kustomization["namespace"] == "tailor"
    assert all(d["metadata"]["namespace"] == "tailor" for d in _all_docs().values()
               if d["kind"] != "Namespace")  # fmt: skip


def test_workloads_run_the_image_as_its_non_root_user_with_limits() -> None:
    docs = _all_docs()
    workloads = [d for d in docs.values() if d["kind"] in WORKLOADS]
    assert sorted(d["metadata"]["name"] for d in workloads) == [
        "tailor-monitor", "tailor-serve", "tailor-stream", "tailor-train",
    ]  # fmt: skip
    images = set()
    for doc in workloads:
        spec = _pod_spec(doc)
        assert spec["securityContext"]["runAsUser"] == UID
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        (container,) = spec["containers"]
        images.add(container["image"])
        assert set(container["resources"]) == {"requests", "limits"}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert "/tmp" in mounts  # numba's cache (NUMBA_CACHE_DIR) under a read-only root
        assert mounts["/data"]["name"] == "data"  # the one model store
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "tailor-data"
        # secrets come as files, never as environment variables
        assert "secretKeyRef" not in json.dumps(container)
    assert images == {"registry.example.com/tailor:0.1.0"}


def test_serve_probes_service_autoscaler_and_budget_fit_together() -> None:
    docs = _all_docs()
    serve = docs["Deployment", "tailor-serve"]
    (container,) = _pod_spec(serve)["containers"]
    assert container["args"] == ["serve"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert {"name": "TAILOR_SETTINGS_FILE", "value": "/etc/tailor/secret/tailor.toml"} in (
        container["env"]
    )
    pod_labels = serve["spec"]["template"]["metadata"]["labels"]
    service = docs["Service", "tailor-serve"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = docs["PodDisruptionBudget", "tailor-serve"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] < serve["spec"]["replicas"]  # a drain can proceed
    hpa = docs["HorizontalPodAutoscaler", "tailor-serve"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "tailor-serve",
    }  # fmt: skip
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource", "Pods"]
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]
    stream = docs["Deployment", "tailor-stream"]
    assert stream["spec"]["replicas"] == 1 and stream["spec"]["strategy"]["type"] == "Recreate"


def test_the_secret_holds_a_settings_file_that_tailor_reads() -> None:
    from tailor.monitoring.config import monitor_settings
    from tailor.serving.settings import ServeSettings

    docs = _all_docs()
    tables = tomllib.loads(docs["Secret", "tailor-secrets"]["stringData"]["tailor.toml"])
    serve = ServeSettings(**tables["serve"])
    assert str(serve.model_dir) == "/data/store"
    assert serve.redis_url.startswith("redis://") and serve.event_log_url
    monitor = monitor_settings(tables)
    assert monitor.event_log_url == serve.event_log_url  # inherited from [serve]
    assert str(monitor.model_dir) == "/data/store"
    assert docs["ConfigMap", "tailor-env"]["data"]["TAILOR_MODEL_DIR"] == "/data/store"


def test_train_configs_publish_to_the_store_and_take_the_appended_tracking_uri(
    tmp_path: Path,
) -> None:
    """The CronJob and the compose command append `uri = ...` to a copy of train.toml: the
    line must land in its last table, [tracking]."""
    from tailor.training.config import load_config

    texts = {
        "k8s": _all_docs()["ConfigMap", "tailor-train"]["data"]["train.toml"],
        "compose": (ROOT / "deploy" / "compose" / "train.toml").read_text(),
    }
    uri = "postgresql://tailor:secret@postgres:5432/mlflow"
    for name, text in texts.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(text + f'uri = "{uri}"\n')
        config = load_config(path)
        assert (config.publish.registry, config.publish.activate) == ("/data/store", True)
        assert (config.tracking.enabled, config.tracking.uri) == (True, uri)


@pytest.fixture(scope="module")
def checkov_report(
    require: Callable[[bool, str], None], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[dict[str, Any]]]:
    """One checkov run (its start-up is most of its time) over copies of the manifests, the
    Dockerfile and, in bad/, the serve Deployment without its security contexts; the checks
    that failed and were skipped, by file (relative to that folder)."""
    require(CHECKOV.is_file(), f"checkov is not installed at {CHECKOV} (make tools)")
    work = tmp_path_factory.mktemp("checkov")
    shutil.copytree(K8S, work / "k8s")
    shutil.copy(ROOT / "Dockerfile", work / "Dockerfile")
    (doc,) = _docs(K8S / "serve-deployment.yaml")
    del doc["spec"]["template"]["spec"]["securityContext"]
    del doc["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    (work / "bad").mkdir()
    (work / "bad" / "serve.yaml").write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [str(CHECKOV), "-d", str(work), "--framework", "kubernetes", "dockerfile",
         "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=600, cwd=work,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr[-3000:]
    reports = json.loads(done.stdout)
    results: dict[str, list[dict[str, Any]]] = {"failed": [], "skipped": [], "passed": []}
    for report in reports if isinstance(reports, list) else [reports]:
        for kind in results:
            results[kind] += report["results"].get(f"{kind}_checks", [])
    return results


def test_checkov_passes_the_manifests_and_the_dockerfile(
    checkov_report: dict[str, list[dict[str, Any]]],
) -> None:
    ours = {kind: [c for c in checks if not c["file_path"].startswith("/bad/")]
            for kind, checks in checkov_report.items()}  # fmt: skip
    assert [(c["check_id"], c["file_path"]) for c in ours["failed"]] == []
    assert len(ours["passed"]) > 300
    skipped = {(c["check_id"], c["file_path"]) for c in ours["skipped"]}
    assert skipped == {
        ("CKV_DOCKER_7", "/Dockerfile"),
        ("CKV_K8S_43", "/k8s/serve-deployment.yaml"),
        ("CKV_K8S_43", "/k8s/stream-deployment.yaml"),
        ("CKV_K8S_43", "/k8s/train-cronjob.yaml"),
        ("CKV_K8S_43", "/k8s/monitor-cronjob.yaml"),
    }
    # every skip carries its reason inline
    assert all(len(c["check_result"].get("suppress_comment", "")) > 20 for c in ours["skipped"])


def test_checkov_fails_a_root_container(checkov_report: dict[str, list[dict[str, Any]]]) -> None:
    failed = {
        c["check_id"] for c in checkov_report["failed"] if c["file_path"] == "/bad/serve.yaml"
    }
    # privilege escalation, a writable root filesystem, root allowed
    assert {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23"} <= failed


def _hadolint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), *map(str, paths)], capture_output=True, text=True, timeout=60
    )


def test_hadolint_passes_the_dockerfile_and_the_containerfiles(tmp_path: Path) -> None:
    assert HADOLINT.is_file(), f"hadolint is missing from {HADOLINT.parent} (the dev group)"
    files = [ROOT / "Dockerfile", *sorted((ROOT / "deploy" / "podman").glob("*.Containerfile"))]
    assert len(files) == 4
    done = _hadolint(*files)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    assert _hadolint(bad).returncode != 0


def _compose_validator(require: Callable[[bool, str], None], name: str) -> str:
    found = shutil.which(name)
    require(found is not None, f"{name} is not installed (apt-get install -y docker-compose "
                               "docker.io; docs/deploy.md)")  # fmt: skip
    assert found is not None
    return found


def test_compose_file_validates(require: Callable[[bool, str], None], tmp_path: Path) -> None:
    compose = _compose_validator(require, "docker-compose")
    env = {**os.environ, "POSTGRES_PASSWORD": "test-only"}
    done = subprocess.run(
        [compose, "-f", str(ROOT / "deploy" / "compose.yaml"), "config"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert set(config["services"]) == {"redis", "postgres", "serve", "stream", "train"}
    assert config["services"]["train"]["profiles"] == ["train"]
    assert config["services"]["serve"]["command"] == ["serve"]
    assert config["services"]["stream"]["command"] == ["stream"]
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  serve:\n    image: x\n    ports: 8000\n")
    assert subprocess.run([compose, "-f", str(bad), "config", "-q"], capture_output=True,
                          timeout=60).returncode != 0  # fmt: skip


def test_swarm_stack_validates(require: Callable[[bool, str], None], tmp_path: Path) -> None:
    docker = _compose_validator(require, "docker")
    stack = ROOT / "deploy" / "swarm" / "stack.yaml"
    done = subprocess.run([docker, "stack", "config", "-c", str(stack)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert set(config["services"]) == {"redis", "postgres", "serve", "stream", "train"}
    update = config["services"]["serve"]["deploy"]["update_config"]
    assert (update["order"], update["failure_action"]) == ("start-first", "rollback")
    bad = tmp_path / "stack.yaml"
    bad.write_text("services:\n  serve:\n    image: x\n    deploy: {replicas: two}\n")
    assert subprocess.run([docker, "stack", "config", "-c", str(bad)], capture_output=True,
                          timeout=60).returncode != 0  # fmt: skip
