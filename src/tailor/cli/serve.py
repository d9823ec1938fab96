"""``tailor serve``: run the recommendation API, precompute its cache, manage model versions.

tailor serve --model-dir DIR [--redis URL] [--host H --port P] [--workers N] [--config FILE]
tailor serve warm --model-dir DIR --redis URL      # precompute top-N per user, then activate
tailor serve publish --registry ROOT MODEL_DIR [--activate]
tailor serve activate --registry ROOT VERSION
tailor serve rollback --registry ROOT
tailor serve versions --registry ROOT
tailor serve hash-key < key.txt                    # the sha256 to put in api_keys

Secrets never go on the command line (other users see it in the process list): API keys are read
from standard input by ``hash-key`` and stored hashed; a Redis password goes in
``TAILOR_REDIS_URL`` or the settings file, and ``--redis`` refuses a URL that holds one.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import click

from tailor.errors import ArtifactError, ConfigError

SETTINGS_FILE_ENV = "TAILOR_SETTINGS_FILE"


def _settings(config: Path | None, **overrides: Any) -> Any:
    from tailor.serving.settings import load_settings

    file = config or (
        Path(os.environ[SETTINGS_FILE_ENV]) if SETTINGS_FILE_ENV in os.environ else None
    )
    return load_settings(file, **overrides)


_model_dir = click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Model directory from `tailor fit`, or a registry root.  [env TAILOR_MODEL_DIR]",
)
_redis = click.option("--redis", "redis_url", help="redis://host:port/db or memory:// (default).")
_config = click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Settings file (TOML with a [serve] table, or JSON).  [env TAILOR_SETTINGS_FILE]",
)


@click.group(invoke_without_command=True)
@_model_dir
@_redis
@_config
@click.option("--host", help="Bind address (default 127.0.0.1).")
@click.option("--port", type=int, help="Bind port (default 8000).")
@click.option("--workers", type=int, help="Worker processes (default 1).")
@click.option("--warm", "warm_on_start", flag_value=True, default=None,
              help="Precompute every user's list into the cache before serving.")  # fmt: skip
@click.pass_context
def serve(ctx: click.Context, config: Path | None, **options: Any) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs)."""
    if ctx.invoked_subcommand is not None:
        return
    from tailor.serving.shutdown import run_server

    _refuse_password_on_argv(options.get("redis_url"))
    settings = _settings(config, **options)
    if settings.model_dir is None:
        raise ConfigError("no model: pass --model-dir DIR or set TAILOR_MODEL_DIR")
    click.echo(f"serving {settings.model_dir} on http://{settings.host}:{settings.port}", err=True)
    kwargs = {"host": settings.host, "port": settings.port, "grace_s": settings.shutdown_grace_s}
    if settings.workers == 1:
        from tailor.serving.app import create_app

        run_server(create_app(settings), workers=1, **kwargs)
        return
    # each worker process builds its own app from the environment
    os.environ.update(_as_env(settings, options, config))
    run_server("tailor.serving.app:app_from_env", workers=settings.workers, **kwargs)


def _refuse_password_on_argv(url: str | None) -> None:
    from urllib.parse import urlsplit

    if url and urlsplit(url).password is not None:
        raise ConfigError(
            "--redis must not hold a password (the command line is visible to other users); "
            "set TAILOR_REDIS_URL or redis_url in the settings file instead"
        )


def _as_env(settings: Any, options: dict[str, Any], config: Path | None) -> dict[str, str]:
    env = {f"TAILOR_{k.upper()}": str(v) for k, v in options.items() if v is not None}
    if config is not None:
        env[SETTINGS_FILE_ENV] = str(config)
    env["TAILOR_MODEL_DIR"] = str(settings.model_dir)
    return env


@serve.command()
@_model_dir
@_redis
@_config
@click.option("--n", "precompute_n", type=int, help="Items per user (default 50).")
@click.option("--no-activate", is_flag=True, help="Write the lists but keep the active pointer.")
def warm(config: Path | None, no_activate: bool, **options: Any) -> None:
    """Precompute every user's top-N into the cache under the active version's keys."""
    _refuse_password_on_argv(options.get("redis_url"))
    from tailor.serving.app import build_services
    from tailor.serving.instruments import ServingMetrics
    from tailor.serving.precompute import warm as warm_cache
    from tailor.serving.state import StateOptions, load_state

    settings = _settings(config, **options)
    if settings.model_dir is None:
        raise ConfigError("no model: pass --model-dir DIR or set TAILOR_MODEL_DIR")
    services = build_services(settings, ServingMetrics())
    assert services.registry is not None
    version = services.registry.active()
    if version is None:
        raise ConfigError(f"{settings.model_dir} has no active version")
    # the server's pipeline (ANN candidates above ann_min_items included), so the stored lists
    # are the ones live scoring would compute
    state = load_state(services.registry, version, StateOptions.of(settings))
    if state.model is None:
        raise ArtifactError(f"{settings.model_dir}: nothing to precompute: {state.problem}")

    async def run() -> Any:
        try:
            return await warm_cache(state, services.cache, settings.precompute_n,
                                    activate=not no_activate)  # fmt: skip
        finally:
            await services.cache.close()

    from tailor.serving.cache import CacheUnavailable

    try:
        report = asyncio.run(run())
    except CacheUnavailable as exc:
        raise ConfigError(f"cache unavailable: {exc}") from None
    click.echo(f"warmed {report.users} users of {report.version} in {report.seconds:.1f}s")


_registry = click.option(
    "--registry", "root", required=True, type=click.Path(path_type=Path, file_okay=False),
    help="Registry root (versions/ + ACTIVE).",
)  # fmt: skip


def _registry_at(root: Path) -> Any:
    from tailor.serving.registry import ModelRegistry

    return ModelRegistry(root, history_limit=_settings(None).history_limit)


@serve.command()
@_registry
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--version", help="Version name (default: the manifest's).")
@click.option("--activate", "do_activate", is_flag=True, help="Also make it active.")
def publish(root: Path, model_dir: Path, version: str | None, do_activate: bool) -> None:
    """Check that a model directory loads, then copy it into the registry as a new version."""
    registry = _registry_at(root)
    name = registry.publish(model_dir, version)
    if do_activate:
        registry.activate(name)
    click.echo(name)


@serve.command()
@_registry
@click.argument("version")
def activate(root: Path, version: str) -> None:
    """Check that VERSION loads, then make it active (running servers pick it up within
    reload_poll_s). A version that does not load leaves the active one as it is."""
    _registry_at(root).activate(version)
    click.echo(version)


@serve.command()
@_registry
def rollback(root: Path) -> None:
    """Re-activate the previously active version (checked first, like activate)."""
    click.echo(_registry_at(root).rollback())


@serve.command()
@_registry
def versions(root: Path) -> None:
    """List published versions; the active one is marked with *."""
    registry = _registry_at(root)
    active = registry.active()
    for name in registry.versions():
        click.echo(f"{'*' if name == active else ' '} {name}")


@serve.command("hash-key")
def hash_key() -> None:
    """Print the SHA-256 of an API key read from standard input (one line), the value to
    store in ``api_keys``. The key is never taken from the command line."""
    from tailor.serving.auth import hash_key as digest

    if sys.stdin.isatty():
        key = str(click.prompt("API key", hide_input=True))
    else:
        key = sys.stdin.readline().rstrip("\r\n")
    if not key:
        raise ConfigError("no API key on standard input")
    click.echo(digest(key))
