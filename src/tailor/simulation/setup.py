"""A simulated shop on disk: its world, its history, a model store a server can serve."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tailor.data.dataset import Dataset
from tailor.models.model_dir import ModelDir
from tailor.models.popular import Popularity
from tailor.models.registry import create_model
from tailor.serving.registry import ModelRegistry
from tailor.simulation.world import ShopWorld

WORLD_FILE = "world.json"
SETTINGS_FILE = "tailor.toml"


@dataclass(frozen=True)
class WorldSpec:
    """What rebuilds a :class:`ShopWorld` exactly (it is seeded)."""

    n_users: int = 500
    n_items: int = 200
    k: int = 8
    seed: int = 0
    history_per_user: int = 20

    def build(self) -> ShopWorld:
        return ShopWorld(n_users=self.n_users, n_items=self.n_items, k=self.k, seed=self.seed)

    @classmethod
    def read(cls, folder: Path) -> WorldSpec:
        return cls(**json.loads((folder / WORLD_FILE).read_text()))


def fit_version(world: ShopWorld, spec: WorldSpec, model: str, folder: Path) -> Path:
    """``model`` fitted on the world's history, written as a model folder at ``folder``."""
    history = world.history(per_user=spec.history_per_user)
    data = Dataset.from_frame(history, items=world.catalog())
    fitted = create_model(model).fit(data)
    ModelDir.write(
        folder,
        fitted,
        popularity=Popularity().fit(data),
        catalog=world.catalog(),
        command="simulate",
    )
    return folder


def setup_shop(
    out: Path,
    spec: WorldSpec,
    models: tuple[str, ...] = ("recency-ease",),
    *,
    final: Path | None = None,
    ab: bool = False,
    **serve: Any,
) -> ModelRegistry:
    """``out/world.json``, ``out/store`` (one version per model, the first active) and
    ``out/tailor.toml`` (``[serve]`` with the store, an SQLite event log beside it and
    ``serve``'s extra keys; with ``ab``, :data:`AB_EXPERIMENT`). The file names the folder's
    ``final`` place (default ``out``):
    a caller that builds in a staging folder passes where it will end up."""
    out.mkdir(parents=True, exist_ok=True)
    home = (final or out).resolve()
    (out / WORLD_FILE).write_text(json.dumps(asdict(spec), indent=2))
    world = spec.build()
    store_root = out / "store"
    store_root.mkdir(exist_ok=True)
    store = ModelRegistry(store_root)
    names = []
    for model in models:
        names.append(store.publish(fit_version(world, spec, model, out / ".fits" / model)))
    store.activate(names[0])
    shutil.rmtree(out / ".fits")
    settings = {
        "model_dir": str(home / "store"),
        "event_log_url": f"sqlite:///{home / 'events.db'}",
        # a run is the same whatever the machine's load: live scoring is never cut short into
        # the fallback list by the latency budget
        "scoring_budget_ms": 5000.0,
        **serve,
    }
    lines = ["[serve]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    if ab:
        lines += AB_EXPERIMENT
    (out / SETTINGS_FILE).write_text("\n".join(lines) + "\n")
    return store


AB_EXPERIMENT = [
    "",
    "[[experiments]]",
    'name = "model-vs-popular"',
    'primary_metric = "ctr"',
    "[[experiments.variants]]",
    'name = "popular"',
    'strategy = "popular"',
    "[[experiments.variants]]",
    'name = "model"',
]
"""The A/B test of ``setup --ab``: the active model against its own popular list."""
