"""The recommendation pipeline between the models and their users (``tailor recommend``,
evaluation, serving): candidates -> business filters -> top-n -> fallback -> explanation.

Import direction: ``data <- models <- pipeline <- {evaluation, serving, cli}``; nothing in
``models`` imports it. See :mod:`tailor.pipeline.core`.

Stability: stable.
"""

from tailor.pipeline.ann import AnnIndex, AnnSettings
from tailor.pipeline.catalog import Catalog
from tailor.pipeline.core import (
    FALLBACK_SIZE,
    SOURCE_COLD_START,
    SOURCE_FALLBACK,
    SOURCE_MODEL,
    SOURCE_SESSION,
    Explainer,
    Pipeline,
    PipelineResult,
    Query,
    UserList,
    read_segments,
)
from tailor.pipeline.filters import ItemFilter, ItemList, ItemPredicate, apply_filters
from tailor.pipeline.popular import PopularLists
from tailor.pipeline.scoring import ModelIndex, score_user

__all__ = [
    "FALLBACK_SIZE",
    "SOURCE_COLD_START",
    "SOURCE_FALLBACK",
    "SOURCE_MODEL",
    "SOURCE_SESSION",
    "AnnIndex",
    "AnnSettings",
    "Catalog",
    "Explainer",
    "ItemFilter",
    "ItemList",
    "ItemPredicate",
    "ModelIndex",
    "Pipeline",
    "PipelineResult",
    "PopularLists",
    "Query",
    "UserList",
    "apply_filters",
    "read_segments",
    "score_user",
]
