"""Request and response models of the HTTP API (the OpenAPI spec is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from tailor.experiments.config import Variant

ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
"""1-256 characters, none of them a control character (C0, DEL or C1)."""
MAX_ID_LENGTH = 256
MAX_N = 100

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)
]
MAX_CONTEXT_ITEMS = 50
"""Most items in each list of a request's ``context``."""
Source = Literal["model", "cache", "fallback", "cold_start", "session", "popular"]


def _integral(value: Any) -> Any:
    """46.0 -> 46: JSON Schema's ``integer`` includes numbers with a zero fraction, which a
    strict pydantic ``int`` would refuse; anything else is left to the strict check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


ListLength = Annotated[
    int,
    BeforeValidator(_integral),
    Field(ge=1, le=MAX_N),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_N}),
]
"""``n`` in a JSON body: a strict integer in [1, MAX_N] that also accepts JSON numbers such as
``46.0`` (integers by the spec)."""


class ItemScore(BaseModel):
    """One recommended item."""

    item_id: str
    score: float


MAX_EXPLAIN_TOP = 20
"""Most contributions per explained item."""


ExplainTop = Annotated[
    int,
    BeforeValidator(_integral),
    Field(ge=1, le=MAX_EXPLAIN_TOP, description="Contributions per explained item."),
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_EXPLAIN_TOP,
            "default": 3,
            "description": "Contributions per explained item.",
        }
    ),
]
"""``explain_top`` in a JSON body: a strict integer that accepts ``3.0`` (see ListLength)."""


class Contribution(BaseModel):
    """What one input adds to an item's score."""

    name: str = Field(
        description="A feature name (kind shap, lime) or a history item id (kind items)."
    )
    value: float


class ItemExplanation(BaseModel):
    """Why the model scored an item so: ``score == base_value + sum of every contribution``
    for the additive kinds (``contributions`` holds the largest by absolute value)."""

    kind: Literal["shap", "items", "lime"] = Field(
        description="shap: SHAP values of the features (the ranker, Wide & Deep); items: "
        "'because you bought X', each history item's exact share (item-item and factor "
        "models); lime: a local linear surrogate's weights."
    )
    score: float = Field(
        description="The score explained: the model's score for the item from this history."
    )
    base_value: float = Field(description="What the score is without any contribution.")
    contributions: list[Contribution]


class RecommendedItem(ItemScore):
    """One recommended item, with its explanation when the request asked for one."""

    explanation: ItemExplanation | None = Field(
        default=None,
        description="Present when explain=true: why the model chose the item; null when "
        "nothing explains it (popular items, a model without explanations).",
    )


class RecommendResponse(BaseModel):
    """A ranked list for one user."""

    user_id: str
    items: list[RecommendedItem]
    source: Source = Field(
        description="model: live scoring; cache: precomputed list; fallback: popular items "
        "because a dependency failed or ran out of time; cold_start: popular items for a "
        "user the model does not know; session: scored from a history the model has no row "
        "for (a session's recent items, a request's context); popular: the popular list, "
        "served because the user's experiment variant asks for it."
    )
    model_version: str | None = Field(description="The model version that produced the answer.")
    recommendation_id: str = Field(
        description="Refer to this id in later events. In an experiment it ends with "
        "':EXPERIMENT:VARIANT'."
    )
    experiment: str | None = Field(
        default=None,
        description="The running experiment this list was served in (docs/experiments.md); "
        "null outside any experiment.",
    )
    variant: str | None = Field(
        default=None, description="The experiment's variant that decided the list; null outside."
    )
    explain_status: Literal["ok", "timeout", "error"] | None = Field(
        default=None,
        description="Present when explain=true: ok; timeout: the explanations ran out of "
        "their time budget and every item's explanation is null; error: they failed (logged).",
    )


class RecommendContext(BaseModel):
    """What the visitor is doing now: the list is scored from the user's history (when the
    model knows the user; else the id's stored recent items) plus these items, through the
    model's item-item or fold-in path (``source=session``). With ``exclude_seen`` they are
    never recommended back."""

    model_config = ConfigDict(extra="forbid", strict=True)

    recent_items: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_CONTEXT_ITEMS,
        description="Items viewed or clicked just now, oldest first.",
    )
    cart_items: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_CONTEXT_ITEMS,
        description="Items in the cart (scored as the newest history).",
    )

    @property
    def item_ids(self) -> list[str]:
        """The history the context adds, oldest first: recent items, then the cart."""
        return [*self.recent_items, *self.cart_items]


class RecommendRequest(BaseModel):
    """Recommendations for many users at once; the options (``context`` included) apply to
    every user."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user_ids: list[Identifier] = Field(min_length=1, max_length=MAX_N)
    n: ListLength | None = None
    category: Identifier | None = None
    exclude: list[Identifier] = Field(default_factory=list, max_length=MAX_N)
    exclude_seen: bool = True
    segment: Identifier | None = None
    context: RecommendContext | None = None
    explain: bool = Field(
        default=False, description="Explain each item (see GET ...?explain=true)."
    )
    explain_top: ExplainTop = 3


class RecommendParams(BaseModel):
    """Query of ``GET /v1/recommendations/{user_id}``, validated in one call (see the route)."""

    category: Identifier | None = Field(
        default=None, description="Only items of this catalog category."
    )
    n: int | None = Field(default=None, ge=1, le=MAX_N, description="List length.")
    exclude: list[Identifier] = Field(
        default=[],  # pydantic copies it per instance; a literal keeps "default: []" in the spec
        max_length=MAX_N,
        description="Item ids never to return (repeat the parameter).",
    )
    exclude_seen: bool = Field(default=True, description="Leave out items the user saw.")
    segment: Identifier | None = Field(
        default=None,
        description="User segment (e.g. a country) whose popular list answers a user the "
        "model does not know and fills short lists; default: the user's segment in the "
        "version's users table (setting segment_column), else the global list.",
    )
    explain: bool = Field(
        default=False,
        description="Explain each item: its score split into the largest contributions (the "
        "history items or features). Computed for this request only, within its own time "
        "budget; lists are the same with or without it.",
    )
    explain_top: int = Field(
        default=3, ge=1, le=MAX_EXPLAIN_TOP, description="Contributions per explained item."
    )


class BatchRecommendResponse(BaseModel):
    """One result per requested user, in request order."""

    results: list[RecommendResponse]


class SimilarResponse(BaseModel):
    """Items similar to one item."""

    item_id: str
    items: list[ItemScore]
    source: Source
    model_version: str | None


class PopularResponse(BaseModel):
    """The most popular items, globally or within a category."""

    category: str | None
    items: list[ItemScore]
    source: Literal["popular"] = "popular"
    model_version: str | None


class Health(BaseModel):
    """Health answer: booleans and, when not ready, why (no server paths or addresses)."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)
    reason: str | None = None


class ProblemField(BaseModel):
    """One offending field."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None


class VersionSwitch(BaseModel):
    """Admin: activate one published version."""

    model_config = ConfigDict(extra="forbid", strict=True)

    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]


class VersionInfo(BaseModel):
    """Admin: the active version after a change."""

    active: str | None
    versions: list[str]


class ExperimentInfo(BaseModel):
    """Admin: one declared experiment (docs/experiments.md) and whether it assigns now."""

    name: str
    status: Literal["draft", "running", "stopped"]
    running: bool = Field(description="Whether it assigns users now (status and start/stop).")
    traffic: float
    start: datetime | None
    stop: datetime | None
    primary_metric: str
    variants: list[Variant]


class ExperimentList(BaseModel):
    """Admin: the declared experiments, in the order they are tried."""

    experiments: list[ExperimentInfo]


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json answers for ``codes``."""
    descriptions = {
        401: "Missing or unknown API key",
        403: "The key lacks the needed scope",
        404: "Not found",
        413: "Request body too large",
        422: "Invalid input; `errors` names each field",
        429: "Rate limit exceeded; see Retry-After",
        503: "Not ready",
    }
    return {
        code: {
            "description": descriptions.get(code, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for code in codes
    }
