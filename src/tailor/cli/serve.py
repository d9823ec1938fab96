"""``tailor serve``: run the recommendation API, precompute its cache, manage model versions.

tailor serve --model-dir DIR [--redis URL] [--host H --port P] [--workers N] [--config FILE]
tailor serve warm --model-dir DIR --redis URL      # precompute top-N per user, then activate
tailor serve publish --registry ROOT MODEL_DIR [--activate]
tailor serve activate --registry ROOT VERSION
tailor serve rollback --registry ROOT
tailor serve versions --registry ROOT
tailor serve hash-key KEY                          # the sha256 to put in api_keys
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click

from tailor.errors import ConfigError

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
    import uvicorn

    settings = _settings(config, **options)
    if settings.model_dir is None:
        raise ConfigError("no model: pass --model-dir DIR or set TAILOR_MODEL_DIR")
    click.echo(f"serving {settings.model_dir} on http://{settings.host}:{settings.port}", err=True)
    kwargs = {"host": settings.host, "port": settings.port, "log_level": "warning"}
    if settings.workers == 1:
        from tailor.serving.app import create_app

        uvicorn.run(create_app(settings), **kwargs)  # type: ignore[arg-type]
        return
    # each worker process builds its own app from the environment
    os.environ.update(_as_env(settings, options, config))
    uvicorn.run("tailor.serving.app:app_from_env", factory=True, workers=settings.workers, **kwargs)  # type: ignore[arg-type]


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
    from tailor.serving.app import build_services
    from tailor.serving.instruments import ServingMetrics
    from tailor.serving.precompute import warm as warm_cache
    from tailor.serving.state import load_state

    settings = _settings(config, **options)
    if settings.model_dir is None:
        raise ConfigError("no model: pass --model-dir DIR or set TAILOR_MODEL_DIR")
    services = build_services(settings, ServingMetrics())
    assert services.registry is not None
    version = services.registry.active()
    if version is None:
        raise ConfigError(f"{settings.model_dir} has no active version")
    state = load_state(services.registry, version, settings.fallback_size)

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


@serve.command()
@_registry
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--version", help="Version name (default: the manifest's).")
@click.option("--activate", "do_activate", is_flag=True, help="Also make it active.")
def publish(root: Path, model_dir: Path, version: str | None, do_activate: bool) -> None:
    """Copy a model directory into the registry as a new version."""
    from tailor.serving.registry import ModelRegistry

    registry = ModelRegistry(root)
    name = registry.publish(model_dir, version)
    if do_activate:
        registry.activate(name)
    click.echo(name)


@serve.command()
@_registry
@click.argument("version")
def activate(root: Path, version: str) -> None:
    """Make VERSION active (running servers pick it up within reload_poll_s)."""
    from tailor.serving.registry import ModelRegistry

    ModelRegistry(root).activate(version)
    click.echo(version)


@serve.command()
@_registry
def rollback(root: Path) -> None:
    """Re-activate the previously active version."""
    from tailor.serving.registry import ModelRegistry

    click.echo(ModelRegistry(root).rollback())


@serve.command()
@_registry
def versions(root: Path) -> None:
    """List published versions; the active one is marked with *."""
    from tailor.serving.registry import ModelRegistry

    registry = ModelRegistry(root)
    active = registry.active()
    for name in registry.versions():
        click.echo(f"{'*' if name == active else ' '} {name}")


@serve.command("hash-key")
@click.argument("key")
def hash_key(key: str) -> None:
    """Print the SHA-256 of an API key, the value to store in ``api_keys``."""
    from tailor.serving.auth import hash_key as digest

    click.echo(digest(key))
