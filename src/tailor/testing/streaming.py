"""Model stores and events on planted data, for tests and benchmarks of ``tailor stream``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models.model_dir import ModelDir
from tailor.models.popular import Popularity
from tailor.models.registry import create_model
from tailor.serving.registry import ModelRegistry
from tailor.testing.data import planted_frame
from tailor.testing.serving import CATALOG

START = 1_767_225_600
"""2026-01-01T00:00:00Z in epoch seconds: event times of :func:`event`."""


def write_store(
    root: Path,
    model: str = "ease",
    frame: pd.DataFrame | None = None,
    catalog: pd.DataFrame | None = CATALOG,
    **params: Any,
) -> ModelRegistry:
    """A model store at ``root`` whose active version is ``model`` fitted on ``frame``
    (default: the planted data), with its popularity fallback and catalogue."""
    data = Dataset.from_frame(planted_frame() if frame is None else frame, items=catalog)
    fitted = create_model(model, params).fit(data)
    staging = root.parent / f".{root.name}-fit"
    ModelDir.write(staging, fitted, popularity=Popularity().fit(data), catalog=catalog)
    root.mkdir(parents=True, exist_ok=True)
    store = ModelRegistry(root)
    store.activate(store.publish(staging))
    return store


def event(k: int, user: str, item: str, kind: str = "purchase", **fields: Any) -> dict[str, Any]:
    """The JSON of event ``e{k}`` at ``START + k`` seconds."""
    return {
        "event_id": f"e{k}",
        "user_id": user,
        "item_id": item,
        "type": kind,
        "timestamp": START + k,
        **fields,
    }
