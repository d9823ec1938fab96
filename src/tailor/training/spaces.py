"""Declarative hyperparameter search spaces, and the default space of every model.

A :class:`SearchSpace` is a list of :class:`Dimension` s plus fixed parameters. The same object
drives every sampler: Optuna's define-by-run samplers (:meth:`SearchSpace.suggest`), Optuna's
grid sampler (:meth:`SearchSpace.grid`) and Hyperopt's TPE (:meth:`SearchSpace.hyperopt`).
Spaces are written in TOML (``[[candidates]]`` tables of ``tailor train``, ``tailor tune
--space``)::

    regularization = { low = 10.0, high = 5000.0, log = true }       # float (a bound is a float)
    k = { low = 10, high = 500, log = true }                          # int (both bounds ints)
    similarity = { choices = ["cosine", "asymmetric_cosine"] }       # categorical
    alpha = { low = 0.0, high = 1.0, when = { similarity = "asymmetric_cosine" } }
    gram_half_life_days = { low = 7.0, high = 720.0, log = true, optional = true }
    popularity_weight = { low = 0.01, high = 2.0, log = true, optional = true, off = 0.0 }
    binary = true                                                     # a plain value: fixed

``optional = true`` adds a switch ``use_<name>`` (True/False); when it is off the model gets
``off`` (default: None, the option unset). ``when`` samples a dimension only when earlier raw
values (a dimension's value, or a ``use_<name>`` switch) equal the given ones; otherwise the
model keeps its default. ``grid = [...]`` lists the values the grid sampler tries (default: the
choices, or three points from low to high).

:data:`DEFAULT_SPACES` are the spaces of the side-by-side accuracy benchmark
(``bench/accuracy/spaces.py`` imports them, with its first trials :data:`BENCH_STARTS`); a search
starts from the model's defaults (:func:`default_start`).

Stability: experimental.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tailor.errors import ConfigError

Kind = Literal["float", "int", "categorical"]
SWITCH = "use_"
"""Prefix of the on/off switch of an optional dimension."""
GRID_POINTS = 3
"""Points per numeric dimension in the grid sampler's default grid."""
_KEYS = {"low", "high", "log", "step", "choices", "optional", "off", "when", "grid", "type"}


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter to search.

    Attributes:
        name: the model parameter.
        kind: ``float``, ``int`` or ``categorical``.
        low: lower bound (numeric kinds).
        high: upper bound, inclusive.
        log: sample on a log scale.
        step: discretisation step (numeric kinds; None: continuous floats, 1 for ints).
        choices: values of a categorical dimension.
        optional: adds the switch ``use_<name>``; off gives ``off``.
        off: the parameter's value when the switch is off.
        when: raw values (earlier dimensions or switches) this dimension is sampled under.
        grid: values for the grid sampler (None: choices, or :data:`GRID_POINTS` points).
    """

    name: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False
    off: Any = None
    when: Mapping[str, Any] = field(default_factory=dict)
    grid: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        where = f"search space: {self.name}"
        if self.kind == "categorical":
            if not self.choices:
                raise ConfigError(f"{where}: choices must not be empty")
            return
        if self.low is None or self.high is None:
            raise ConfigError(f"{where}: needs low and high (or choices)")
        if not self.low <= self.high:
            raise ConfigError(f"{where}: low {self.low} is above high {self.high}")
        if self.log and self.low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0, got {self.low}")
        if self.step is not None and self.step <= 0:
            raise ConfigError(f"{where}: step must be positive, got {self.step}")

    @property
    def switch(self) -> str:
        """The name of the on/off switch of an optional dimension."""
        return SWITCH + self.name

    def active(self, raw: Mapping[str, Any]) -> bool:
        """Whether the ``when`` conditions hold for the raw values sampled so far."""
        return all(k in raw and raw[k] == v for k, v in self.when.items())

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial suggests (the switch is the caller's)."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            low, high = int(self.low), int(self.high)
            if self.log:
                return int(trial.suggest_int(self.name, low, high, log=True))
            return int(trial.suggest_int(self.name, low, high, step=int(self.step or 1)))
        if self.log:
            return float(trial.suggest_float(self.name, self.low, self.high, log=True))
        return float(trial.suggest_float(self.name, self.low, self.high, step=self.step))

    def grid_values(self) -> list[Any]:
        """The values the grid sampler tries."""
        if self.grid is not None:
            return list(self.grid)
        if self.kind == "categorical":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.log:
            points = [
                math.exp(math.log(self.low) + t * (math.log(self.high) - math.log(self.low)))
                for t in _fractions(GRID_POINTS)
            ]
        else:
            points = [self.low + t * (self.high - self.low) for t in _fractions(GRID_POINTS)]
        if self.kind == "int":
            return sorted({round(p) for p in points})
        return sorted({float(f"{p:.6g}") for p in points})

    def to_table(self) -> dict[str, Any]:
        """The TOML table of this dimension."""
        out: dict[str, Any] = {}
        if self.kind == "categorical":
            out["choices"] = list(self.choices)
        else:
            assert self.low is not None and self.high is not None
            cast = int if self.kind == "int" else float
            out["low"], out["high"] = cast(self.low), cast(self.high)
            if self.log:
                out["log"] = True
            if self.step is not None:
                out["step"] = self.step
        if self.optional:
            out["optional"] = True
            if self.off is not None:
                out["off"] = self.off
        if self.when:
            out["when"] = dict(self.when)
        if self.grid is not None:
            out["grid"] = list(self.grid)
        return out

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any]) -> Dimension:
        """A dimension from its TOML table (see the module docstring).

        Raises:
            ConfigError: unknown keys, missing bounds, bad values.
        """
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ConfigError(
                f"search space: {name}: unknown keys {unknown}; use {', '.join(sorted(_KEYS))}"
            )
        when = table.get("when", {})
        if not isinstance(when, Mapping):
            raise ConfigError(f"search space: {name}: when must be a table of values")
        grid = table.get("grid")
        common: dict[str, Any] = {
            "optional": bool(table.get("optional", False)),
            "off": table.get("off"),
            "when": dict(when),
            "grid": tuple(grid) if grid is not None else None,
        }
        if "choices" in table:
            return cls(name, "categorical", choices=tuple(table["choices"]), **common)
        low, high = table.get("low"), table.get("high")
        if not _number(low) or not _number(high):
            raise ConfigError(f"search space: {name}: needs numeric low and high, or choices")
        given = table.get("type")
        if given is None:
            given = "int" if isinstance(low, int) and isinstance(high, int) else "float"
        if given not in ("int", "float"):
            raise ConfigError(f"search space: {name}: type must be int or float, got {given!r}")
        kind: Kind = "int" if given == "int" else "float"
        assert low is not None and high is not None
        step = table.get("step")
        if step is not None and not _number(step):
            raise ConfigError(f"search space: {name}: step must be a number")
        return cls(
            name,
            kind,
            low=float(low),
            high=float(high),
            log=bool(table.get("log", False)),
            step=None if step is None else float(step),
            **common,
        )


@dataclass(frozen=True)
class SearchSpace:
    """Dimensions to search plus parameters every trial gets as they are.

    Attributes:
        dimensions: in sampling order (a ``when`` refers to earlier ones).
        fixed: parameters passed unchanged (e.g. ``binary = true``).
    """

    dimensions: tuple[Dimension, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for dim in self.dimensions:
            known = seen | {SWITCH + s for s in seen}
            missing = sorted(set(dim.when) - known)
            if missing:
                raise ConfigError(
                    f"search space: {dim.name}: 'when' names {missing}, which are not earlier "
                    "dimensions (or their use_ switches)"
                )
            if dim.name in seen:
                raise ConfigError(f"search space: {dim.name} is listed twice")
            seen.add(dim.name)
        both = sorted(seen & set(self.fixed))
        if both:
            raise ConfigError(f"search space: {both} are both searched and fixed")

    @property
    def names(self) -> list[str]:
        """The searched parameters."""
        return [d.name for d in self.dimensions]

    @property
    def is_empty(self) -> bool:
        """Whether nothing is searched (every trial is the fixed parameters)."""
        return not self.dimensions

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The searched parameters an Optuna trial (or ``optuna.trial.FixedTrial``) stands for,
        switches resolved (``use_x`` off gives ``x = off``); without :attr:`fixed`."""
        raw: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for dim in self.dimensions:
            if not dim.active(raw):
                continue
            if dim.optional:
                on = bool(trial.suggest_categorical(dim.switch, [True, False]))
                raw[dim.switch] = on
                if not on:
                    params[dim.name] = dim.off
                    continue
            value = dim.suggest(trial)
            raw[dim.name] = params[dim.name] = value
        return params

    def params(self, trial: Any) -> dict[str, Any]:
        """The model parameters of a trial: :attr:`fixed` plus :meth:`suggest`."""
        return {**self.fixed, **self.suggest(trial)}

    def resolve(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The model parameters of raw values (a trial's ``params``, switches included)."""
        import optuna

        return self.params(optuna.trial.FixedTrial(dict(raw)))

    def raw_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Raw trial values (switches included) for model parameters, e.g. a start point given
        as plain parameters: an optional dimension whose value is its ``off`` gets the switch
        off. Raw keys (``use_x``) are passed through."""
        raw: dict[str, Any] = {}
        for dim in self.dimensions:
            if not dim.active(raw):
                continue
            if dim.optional:
                if dim.switch in params:
                    on = bool(params[dim.switch])
                else:
                    on = dim.name in params and params[dim.name] != dim.off
                raw[dim.switch] = on
                if not on:
                    continue
            if dim.name in params:
                raw[dim.name] = params[dim.name]
        return raw

    def grid(self) -> dict[str, list[Any]]:
        """The search space of Optuna's ``GridSampler``: every raw name and its values."""
        out: dict[str, list[Any]] = {}
        for dim in self.dimensions:
            if dim.optional:
                out[dim.switch] = [True, False]
            out[dim.name] = dim.grid_values()
        return out

    def grid_size(self) -> int:
        """Points of the full grid (conditional dimensions counted as if always active)."""
        return math.prod(len(v) for v in self.grid().values()) if self.dimensions else 1

    def hyperopt(self) -> Any:
        """The space as a Hyperopt expression (nested for switches and ``when``); sampled
        values come back as nested dicts that :func:`flatten_hyperopt` turns into raw values."""
        return _hp_block([d for d in self.dimensions if not d.when], self.dimensions, "")

    def to_table(self) -> dict[str, Any]:
        """The TOML table (``[candidates.space]``): fixed values, then dimension tables."""
        return {**dict(self.fixed), **{d.name: d.to_table() for d in self.dimensions}}

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> SearchSpace:
        """A space from a TOML table: a table value is a dimension, anything else is fixed.

        Raises:
            ConfigError: a malformed dimension.
        """
        dims, fixed = [], {}
        for name, value in table.items():
            if isinstance(value, Mapping):
                dims.append(Dimension.from_table(name, value))
            else:
                fixed[name] = value
        return cls(tuple(dims), fixed)

    def with_fixed(self, fixed: Mapping[str, Any]) -> SearchSpace:
        """The space with more fixed parameters; a fixed name stops being searched."""
        dims = tuple(d for d in self.dimensions if d.name not in fixed)
        return SearchSpace(dims, {**dict(self.fixed), **dict(fixed)})

    def check(self, model: str) -> None:
        """Every searched and fixed name is a hyperparameter of ``model``.

        Raises:
            ConfigError: naming the unknown parameters and the valid ones.
        """
        from tailor.models.registry import model_class

        fields = set(model_class(model).config_class.model_fields)
        unknown = sorted((set(self.names) | set(self.fixed)) - fields)
        if unknown:
            raise ConfigError(
                f"search space of {model!r}: unknown parameters {unknown}; "
                f"valid: {', '.join(sorted(fields))}"
            )


def flatten_hyperopt(sample: Mapping[str, Any]) -> dict[str, Any]:
    """Raw values from a Hyperopt sample of :meth:`SearchSpace.hyperopt` (nested dicts)."""
    raw: dict[str, Any] = {}
    for key, value in sample.items():
        if isinstance(value, Mapping):
            raw.update(flatten_hyperopt(value))
        else:
            raw[key] = value
    return raw


def _hp_block(block: Sequence[Dimension], every: Sequence[Dimension], path: str) -> dict[str, Any]:
    """Hyperopt expressions for ``block``. A dimension conditional on another nests in the branch
    of it that enables it (categorical choice or switch on); container keys start with ``__``
    and labels carry the branch, so each label is unique."""
    from hyperopt import hp

    out: dict[str, Any] = {}
    for dim in block:
        label = f"{path}{dim.name}"
        children = [d for d in every if d.when and _parent(d) in (dim.name, dim.switch)]
        if dim.kind == "categorical":
            if dim.optional:
                raise ConfigError(f"search space: {dim.name}: a categorical cannot be optional")
            if not children:
                out[dim.name] = hp.choice(label, list(dim.choices))
                continue
            branches = []
            for i, choice in enumerate(dim.choices):
                enabled = [c for c in children if c.when.get(dim.name, _NOTHING) == choice]
                branches.append({dim.name: choice, **_hp_block(enabled, every, f"{label}={i}/")})
            out[f"__{dim.name}"] = hp.choice(label, branches)
        elif dim.optional:
            enabled = [c for c in children if c.when.get(dim.switch) is True]
            on = {dim.switch: True, dim.name: _hp_numeric(dim, label)}
            on.update(_hp_block(enabled, every, f"{label}/"))
            out[f"__{dim.switch}"] = hp.choice(f"{path}{dim.switch}", [on, {dim.switch: False}])
        else:
            out[dim.name] = _hp_numeric(dim, label)
    return out


_NOTHING = object()


def _parent(dim: Dimension) -> str:
    if len(dim.when) != 1:
        raise ConfigError(
            f"search space: {dim.name}: Hyperopt needs exactly one 'when' condition per dimension"
        )
    return next(iter(dim.when))


def _hp_numeric(dim: Dimension, label: str) -> Any:
    from hyperopt import hp
    from hyperopt.pyll import scope

    assert dim.low is not None and dim.high is not None
    if dim.kind == "int":
        q = int(dim.step or 1)
        if dim.log:
            # qloguniform can round below low; clip into [low, high]
            expr = hp.qloguniform(label, math.log(dim.low), math.log(dim.high), q)
        else:
            expr = hp.quniform(label, dim.low, dim.high, q)
        return scope.int(scope.minimum(scope.maximum(expr, dim.low), dim.high))
    if dim.log:
        return hp.loguniform(label, math.log(dim.low), math.log(dim.high))
    if dim.step is not None:
        return hp.quniform(label, dim.low, dim.high, dim.step)
    return hp.uniform(label, dim.low, dim.high)


def _fractions(n: int) -> list[float]:
    return [i / (n - 1) for i in range(n)] if n > 1 else [0.5]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dims(*dims: Dimension) -> tuple[Dimension, ...]:
    return tuple(dims)


def _flt(name: str, low: float, high: float, *, log: bool = False, **kw: Any) -> Dimension:
    return Dimension(name, "float", low=low, high=high, log=log, **kw)


def _int(name: str, low: int, high: int, *, log: bool = False, **kw: Any) -> Dimension:
    return Dimension(name, "int", low=low, high=high, log=log, **kw)


def _cat(name: str, *choices: Any, **kw: Any) -> Dimension:
    return Dimension(name, "categorical", choices=choices, **kw)


DEFAULT_SPACES: dict[str, SearchSpace] = {
    "popularity": SearchSpace(_dims(_flt("half_life_days", 1.0, 365.0, log=True, optional=True))),
    "itemknn": SearchSpace(
        _dims(
            _int("k", 10, 500, log=True),
            _cat("similarity", "cosine", "asymmetric_cosine"),
            _flt("shrink", 0.0, 100.0),
            _cat("weighting", "none", "tfidf", "bm25"),
            _flt("alpha", 0.0, 1.0, when={"similarity": "asymmetric_cosine"}),
        ),
        {"binary": True},
    ),
    "ease": SearchSpace(_dims(_flt("regularization", 10.0, 5000.0, log=True)), {"binary": True}),
    "recency-ease": SearchSpace(
        _dims(
            _flt("regularization", 10.0, 5000.0, log=True),
            _flt("gram_half_life_days", 7.0, 720.0, log=True, optional=True),
            _flt("profile_half_life", 1.0, 200.0, log=True, optional=True),
            _flt("popularity_weight", 0.01, 2.0, log=True, optional=True, off=0.0),
            _flt("profile_floor", 0.0, 0.5, when={"use_profile_half_life": True}),
            _flt(
                "popularity_half_life_days",
                1.0,
                60.0,
                log=True,
                when={"use_popularity_weight": True},
            ),
        )
    ),
    "als": SearchSpace(
        _dims(
            _int("factors", 16, 256, log=True),
            _flt("regularization", 1e-3, 10.0, log=True),
            _flt("alpha", 0.5, 50.0, log=True),
            _int("iterations", 5, 30),
        ),
        {"binary": True},
    ),
    "bpr": SearchSpace(
        _dims(
            _int("factors", 16, 256, log=True),
            _flt("learning_rate", 1e-3, 0.2, log=True),
            _flt("regularization", 1e-5, 0.1, log=True),
            _int("iterations", 20, 200, log=True),
        )
    ),
    "mf-sgd": SearchSpace(
        _dims(
            _int("embedding_size", 16, 256, log=True),
            _flt("learning_rate", 1e-3, 0.2, log=True),
            _flt("regularization", 1e-5, 0.1, log=True),
            _int("epochs", 5, 40),
        ),
        {"loss": "warp"},
    ),
    # issue 14's models: the second-stage ranker's LightGBM and candidate depth, the content
    # model's feature weights and profile decay, Wide & Deep's regularisation (dropout in 0.2-0.5)
    "ranker": SearchSpace(
        _dims(
            _flt("learning_rate", 0.01, 0.3, log=True),
            _int("num_leaves", 7, 127, log=True),
            _int("min_data_in_leaf", 10, 500, log=True),
            _flt("feature_fraction", 0.5, 1.0),
            _int("candidates_per_model", 50, 300, log=True),
        )
    ),
    "content": SearchSpace(
        _dims(
            _flt("text_weight", 0.1, 10.0, log=True),
            _flt("category_weight", 0.1, 10.0, log=True),
            _flt("half_life_days", 1.0, 365.0, log=True, optional=True),
        )
    ),
    "wide-deep": SearchSpace(
        _dims(
            _flt("dropout", 0.2, 0.5),
            _flt("weight_decay", 1e-4, 5.0, log=True),
            _flt("learning_rate", 3e-4, 3e-2, log=True),
            _int("embedding_size", 16, 128, log=True),
            _int("negatives", 4, 64, log=True),
        )
    ),
}
"""Each model's default search space: the accuracy benchmark's (``bench/accuracy/spaces.py``),
fixed parameters included (binary interactions for itemknn, ease and als; WARP for mf-sgd); the
ranker's, the content model's and Wide & Deep's are their own benchmarks' starting points."""

BENCH_STARTS: dict[str, dict[str, Any]] = {
    "popularity": {"use_half_life_days": False},
    "itemknn": {"k": 100, "similarity": "cosine", "shrink": 0.0, "weighting": "none"},
    "ease": {"regularization": 500.0},
    "recency-ease": {
        "regularization": 500.0,
        "use_gram_half_life_days": False,
        "use_profile_half_life": False,
        "use_popularity_weight": False,
    },
    "als": {"factors": 64, "regularization": 0.01, "alpha": 1.0, "iterations": 15},
    "bpr": {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100},
    "mf-sgd": {"embedding_size": 64, "learning_rate": 0.05, "regularization": 0.001, "epochs": 20},
    "ranker": {
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.8,
        "candidates_per_model": 100,
    },
    "content": {
        "text_weight": 1.0,
        "category_weight": 1.0,
        "use_half_life_days": True,
        "half_life_days": 30.0,
    },
    "wide-deep": {
        "dropout": 0.3,
        "weight_decay": 0.5,
        "learning_rate": 0.01,
        "embedding_size": 32,
        "negatives": 16,
    },
}
"""The accuracy benchmark's first trial of each model (raw values): the library defaults when the
benchmark was run (docs/benchmarks.md). ``tailor tune`` and ``tailor train`` start from the
model's current defaults instead (:func:`default_start`)."""

ITERATIVE: dict[str, str] = {"als": "iterations", "bpr": "iterations", "mf-sgd": "epochs"}
"""Models that report per-epoch validation metrics (pruning), and their epoch parameter."""


def default_space(model: str) -> SearchSpace:
    """The default search space of ``model`` (empty for a model without one).

    Raises:
        ConfigError: unknown model.
    """
    from tailor.models.registry import model_class

    model_class(model)  # unknown names raise, listing the known ones
    return DEFAULT_SPACES.get(model, SearchSpace())


def default_start(model: str, space: SearchSpace) -> dict[str, Any]:
    """The first trial of a search: the model's default hyperparameters, as raw values of
    ``space`` (an optional parameter at its ``off`` value has its switch off)."""
    from tailor.models.registry import model_class

    config = model_class(model).config_class()
    defaults = {name: getattr(config, name) for name in space.names if hasattr(config, name)}
    return space.raw_of(defaults)
