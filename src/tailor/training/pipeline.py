"""``tailor train``: the training pipeline, from raw data to a gated, published model.

prepare -> split -> tune (each candidate on validation) -> refit the best on train + validation
(with its popularity baseline) -> evaluate on test against popularity and the active model
(paired tests) -> gate -> publish to the model store (or refuse, saying why) -> report.

Everything lands in one run folder::

    RUN/prepared/     interactions/items/users.parquet + report.json
    RUN/split/        train/validation/test.parquet, split.json, items.parquet (as of the cut)
    RUN/tuning/       selection.json (validation scores, the choice), <candidate>.json (trials)
    RUN/model/        the chosen model refitted on train + validation (what is published)
    RUN/baseline/     popularity refitted on train + validation
    RUN/evaluation/   metrics.json, report.html, comparisons.json, systems.json
    RUN/gate.json     the gate's decision and its numbers
    RUN/report.html   the run: stages, candidates, study plots, test comparisons, the gate
    RUN/stages.json   each stage's fingerprint (a stage with unchanged inputs is skipped)
    RUN/history.jsonl one line per run (scheduled retraining appends a line per cycle)

Stability: experimental.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tailor.data.columns import Columns
from tailor.data.split import (
    Split,
    random_split,
    temporal_split,
    user_temporal_split,
    with_validation,
)
from tailor.errors import ConfigError, TailorError
from tailor.logging import get_logger
from tailor.outputs import MARKER, check_output, output_dir, output_file
from tailor.training.config import TrainConfig
from tailor.training.gate import (
    GATE_FILE,
    GateDecision,
    beats,
    coverage_check,
    decide,
    finite_check,
    latency_check,
    record_in_manifest,
)
from tailor.training.stages import RAN, SKIPPED, RunRecord, StageResult, run_stage
from tailor.training.tuning import TrialRecord, metric_k
from tailor.units import SECONDS_PER_DAY

log = get_logger(__name__)

STAGES: tuple[str, ...] = (
    "prepare",
    "split",
    "tune",
    "refit",
    "evaluate",
    "gate",
    "publish",
    "report",
)
HISTORY_FILE = "history.jsonl"
SELECTION_FILE = "selection.json"
COMPARISONS_FILE = "comparisons.json"
SYSTEMS_FILE = "systems.json"
BASELINE = "popularity"
ACTIVE = "active"


class Progress(Protocol):
    """What a caller sees while a run goes (the CLI prints it)."""

    def stage(self, name: str, event: str, result: StageResult | None = None) -> None:
        """``start``, ``skip`` or ``done`` of a stage."""

    def trial(self, candidate: str, record: TrialRecord) -> None:
        """A tuning trial finished."""

    def note(self, text: str) -> None:
        """A line worth showing."""


class _Silent:
    def stage(self, name: str, event: str, result: StageResult | None = None) -> None:
        pass

    def trial(self, candidate: str, record: TrialRecord) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass
class RunSummary:
    """What a run did.

    Attributes:
        run_dir: the run folder.
        stages: each stage's result, in order.
        selection: ``tuning/selection.json`` (validation scores, the chosen model).
        gate: the gate's decision (None when the run stopped before it).
        published: the version published by this run (None: none).
        active: the active version after the run (None: no registry or none active).
        seconds: wall-clock time.
    """

    run_dir: Path
    stages: list[StageResult] = field(default_factory=list)
    selection: dict[str, Any] = field(default_factory=dict)
    gate: GateDecision | None = None
    published: str | None = None
    active: str | None = None
    seconds: float = 0.0
    test: dict[str, dict[str, float]] = field(default_factory=dict)
    tracking: dict[str, str] = field(default_factory=dict)

    @property
    def chosen(self) -> str | None:
        """The chosen candidate's name."""
        best = self.selection.get("best")
        return str(best) if best is not None else None

    def stage(self, name: str) -> StageResult | None:
        """A stage's result by name."""
        return next((s for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a line of history.jsonl)."""
        return {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_dir": str(self.run_dir),
            "chosen": self.chosen,
            "model": self.selection.get("model"),
            "params": self.selection.get("params"),
            "test": self.test,
            "verdict": self.gate.verdict if self.gate is not None else None,
            "reasons": self.gate.reasons if self.gate is not None else [],
            "published": self.published,
            "active": self.active,
            "seconds": round(self.seconds, 3),
            "stages": {s.name: s.status for s in self.stages},
            "tracking": self.tracking,
        }


def train(
    config: TrainConfig,
    run_dir: Path | str | None = None,
    *,
    force_gate: bool = False,
    force: bool = False,
    rerun: tuple[str, ...] = (),
    progress: Progress | None = None,
) -> RunSummary:
    """Run the training pipeline of ``config`` in ``run_dir`` (default ``[output] dir``).

    Args:
        config: the pipeline (:func:`tailor.training.config.load_config`).
        run_dir: the run folder; stages whose inputs are unchanged since the last run there are
            skipped.
        force_gate: publish even when the gate refuses (recorded as ``forced`` in gate.json
            and the manifest).
        force: use a non-empty ``run_dir`` that tailor did not create.
        rerun: stages to run even when unchanged (``all`` for every stage).
        progress: progress callbacks (default: none).

    Raises:
        TailorError: bad data or config (one clear message); a failing stage is recorded as
            not done, so it runs again next time.
    """
    started = time.perf_counter()
    run = Path(run_dir) if run_dir is not None else config.resolve(config.output.dir)
    assert run is not None
    _open_run(run, force=force)
    unknown = sorted(set(rerun) - {*STAGES, "all"})
    if unknown:
        raise ConfigError(f"unknown stages {unknown}; stages: {', '.join(STAGES)}")
    show = progress or _Silent()
    record = RunRecord(run)
    ctx = _Context(config, run, record, show, set(STAGES) if "all" in rerun else set(rerun))
    summary = RunSummary(run)
    try:
        for name in STAGES:
            result = getattr(ctx, f"stage_{name}")()
            summary.stages.append(result)
            show.stage(name, "skip" if result.status == SKIPPED else "done", result)
            if name == "gate":
                summary.gate = GateDecision.read(run / GATE_FILE)
                if force_gate and not summary.gate.passed:
                    summary.gate = ctx.force_gate(summary.gate)
    finally:
        summary.seconds = time.perf_counter() - started
    summary.selection = _read_json(run / "tuning" / SELECTION_FILE)
    systems = _read_json(run / "evaluation" / SYSTEMS_FILE)
    summary.test = {k: v.get("metrics", {}) for k, v in systems.items()}
    published = summary.stage("publish")
    if published is not None and published.status == RAN:
        summary.published = published.data.get("version")
    summary.active = _active_name(config)
    _track(config, run, summary, show)
    _append_history(run, summary)
    return summary


# ---- the stages ---------------------------------------------------------------------------------


class _Context:
    def __init__(
        self,
        config: TrainConfig,
        run: Path,
        record: RunRecord,
        progress: Progress,
        rerun: set[str],
    ) -> None:
        self.config = config
        self.run = run
        self.record = record
        self.progress = progress
        self.rerun = rerun
        self.prints: dict[str, str] = {}
        self.selection: Any = None  # the in-memory Selection when tune ran in this process

    def _stage(
        self,
        name: str,
        section: Any,
        work: Callable[[], tuple[str, dict[str, Any]]],
        *,
        outputs: tuple[Path, ...] = (),
        files: Mapping[str, Path] | None = None,
        upstream: tuple[str, ...] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> StageResult:
        def event(stage: str, what: str) -> None:
            if what == "start":
                self.progress.stage(stage, "start")

        result = run_stage(
            self.record,
            name,
            section,
            work,
            outputs=outputs,
            files=files,
            upstream={u: self.prints[u] for u in upstream},
            extra=extra,
            rerun=name in self.rerun,
            on_stage=event,
        )
        self.prints[name] = result.fingerprint
        return result

    # -- prepare
    def stage_prepare(self) -> StageResult:
        cfg = self.config
        section = {"source": cfg.section("source"), "cleaning": cfg.cleaning}
        out = self.run / "prepared"

        def work() -> tuple[str, dict[str, Any]]:
            from tailor.data.prepare import prepare
            from tailor.data.prepared import REPORT_FILE

            prepared, report = prepare(
                cfg.source.name,
                cfg.resolve(cfg.source.input),
                cfg.resolve(cfg.source.config),
                cleaning=self._cleaning(),
            )
            with output_dir(out, command="train") as staging:
                prepared.save(staging)
                report.save(staging / REPORT_FILE)
            rows = len(prepared.interactions)
            users = prepared.interactions[Columns.USER_ID].nunique()
            items = prepared.interactions[Columns.ITEM_ID].nunique()
            text = (
                f"{report.rows_in:,} rows read, {report.rows_out:,} kept "
                f"({rows:,} interactions, {users:,} users, {items:,} items)"
            )
            return text, {"rows_in": report.rows_in, "rows_out": report.rows_out}

        return self._stage("prepare", section, work, outputs=(out,), files=source_files(cfg))

    def _cleaning(self) -> Any:
        cfg = self.config
        if not cfg.cleaning:
            return None
        from tailor.data.cleaning import CleaningConfig
        from tailor.data.sources import as_config, get_source

        loaded = as_config(cfg.resolve(cfg.source.config))
        table = {**(loaded.cleaning if loaded is not None else {}), **cfg.cleaning}
        return CleaningConfig.from_table(table, get_source(cfg.source.name).cleaning_defaults)

    # -- split
    def stage_split(self) -> StageResult:
        cfg = self.config
        out = self.run / "split"

        def work() -> tuple[str, dict[str, Any]]:
            from tailor.data.io import read_interactions
            from tailor.data.prepared import ITEMS_FILE, PROPERTIES_FILE, USERS_FILE
            from tailor.data.properties import catalogue_for_split

            prepared = self.run / "prepared"
            frame = read_interactions(prepared / "interactions.parquet")
            split = make_split(frame, cfg)
            catalogue = None
            if (prepared / PROPERTIES_FILE).is_file() and (prepared / ITEMS_FILE).is_file():
                catalogue, split.info["catalogue"] = catalogue_for_split(prepared, split)
            elif (prepared / ITEMS_FILE).is_file():
                catalogue = pd.read_parquet(prepared / ITEMS_FILE)
            with output_dir(out, command="train") as staging:
                split.save(staging)
                if catalogue is not None:
                    catalogue.to_parquet(staging / ITEMS_FILE, index=False)
                if (prepared / USERS_FILE).is_file():
                    shutil.copyfile(prepared / USERS_FILE, staging / USERS_FILE)
            parts = split.info.get("parts", {})
            text = ", ".join(f"{k} {v.get('rows', 0):,}" for k, v in parts.items()) + " rows"
            cut = split.info.get("parameters", {}).get("cut")
            if cut:
                text += f" (test from {cut})"
            return text, {"parts": {k: v.get("rows") for k, v in parts.items()}, "cut": cut}

        return self._stage(
            "split", cfg.section("split"), work, outputs=(out,), upstream=("prepare",)
        )

    # -- tune
    def stage_tune(self) -> StageResult:
        cfg = self.config
        out = self.run / "tuning"
        section = {
            "candidates": cfg.section("candidates"),
            "tuning": cfg.section("tuning"),
            "metric": cfg.section("metric"),
        }
        print_prefix = _prefix(section, self.prints["split"])

        def work() -> tuple[str, dict[str, Any]]:
            from tailor.training.selection import Candidate, choose

            split_dir = self.run / "split"
            split = Split.load(split_dir)
            items = _items_path(split_dir)
            candidates = [
                Candidate(c.model, c.key, c.search_space(), c.trials, c.starts)
                for c in cfg.candidates
            ]
            base = cfg.tuning.study or cfg.name
            study = f"{base}-{print_prefix}" if cfg.tuning.storage else base
            settings = cfg.tuning.settings(study=study)
            selection = choose(
                split,
                candidates,
                settings,
                items=items,
                metric=cfg.metric.name,
                relevant=cfg.metric.relevant,
                threads=cfg.tuning.threads,
                files=(split_dir / "train.parquet", split_dir / "validation.parquet"),
                on_trial=self.progress.trial,
                objective=cfg.tuning.objective,  # type: ignore[arg-type]
                periods=cfg.tuning.periods,
                horizon=cfg.tuning.horizon,
            )
            self.selection = selection
            with output_dir(out, command="train") as staging:
                _write_json(staging / SELECTION_FILE, selection.to_dict())
                for key, result in selection.results.items():
                    frame = result.tuning.trials_frame()
                    frame.to_csv(staging / f"{_safe(key)}-trials.csv", index=False)
            chosen = selection.chosen
            trials = sum(len(r.tuning.trials) for r in selection.results.values())
            pruned = sum(r.tuning.counts["pruned"] for r in selection.results.values())
            if cfg.tuning.objective == "backtest":
                scored = (
                    f"mean {cfg.metric.name} over {cfg.tuning.periods} backtest periods "
                    f"{chosen.validation:.4f}: "
                    + ", ".join(
                        f"{origin} {'-' if v is None else f'{v:.4f}'}"
                        for origin, v in chosen.periods.items()
                    )
                )
            else:
                scored = f"validation {cfg.metric.name} {chosen.validation:.4f}"
            text = f"best {selection.best} ({scored}); {trials} trials, {pruned} pruned"
            return text, {"best": selection.best, "validation": chosen.validation}

        return self._stage(
            "tune", section, work, outputs=(out / SELECTION_FILE,), upstream=("split",)
        )

    # -- refit
    def stage_refit(self) -> StageResult:
        cfg = self.config
        model_dir, baseline_dir = self.run / "model", self.run / "baseline"

        def work() -> tuple[str, dict[str, Any]]:
            from tailor.models.model_dir import fit_model_dir
            from tailor.training.selection import refit

            split_dir = self.run / "split"
            split = Split.load(split_dir)
            items = _read_items(split_dir)
            chosen = _read_json(self.run / "tuning" / SELECTION_FILE)
            fit = refit(
                split,
                chosen["model"],
                chosen["params"],
                model_dir,
                items=items,
                threads=cfg.tuning.threads,
                seed=cfg.tuning.seed,
            )
            fit_model_dir(split.fit_frame(), BASELINE, {}, baseline_dir, items=items)
            _record_data_fingerprints(model_dir, split_dir)
            text = (
                f"{chosen['best']} on {fit.n_interactions:,} interactions "
                f"({fit.n_users:,} users, {fit.n_items:,} items) in {fit.fit_seconds:.1f} s"
            )
            return text, {"model": chosen["model"], "fit_seconds": fit.fit_seconds}

        return self._stage(
            "refit",
            {"seed": cfg.tuning.seed, "threads": cfg.tuning.threads},
            work,
            outputs=(model_dir, baseline_dir),
            upstream=("split", "tune"),
        )

    # -- evaluate
    def stage_evaluate(self) -> StageResult:
        cfg = self.config
        out = self.run / "evaluation"
        active = _active(cfg, exclude=_version(self.run / "model"))

        def work() -> tuple[str, dict[str, Any]]:
            from tailor.evaluation import write_report
            from tailor.evaluation.importance import global_importance
            from tailor.models.model_dir import ModelDir
            from tailor.training.selection import evaluate_systems, paired, record_headline

            split_dir = self.run / "split"
            split = Split.load(split_dir)
            items = _read_items(split_dir)
            chosen = _read_json(self.run / "tuning" / SELECTION_FILE)
            best = str(chosen["best"])
            systems: dict[str, Path] = {BASELINE: self.run / "baseline"}
            if active is not None:
                systems[ACTIVE] = active[1]
            systems[best] = self.run / "model"
            ks = sorted({*cfg.metric.k, metric_k(self._gate_metric())})
            results = evaluate_systems(
                split, systems, k=ks, relevant=cfg.metric.relevant, items=items
            )
            metrics = list(dict.fromkeys([self._gate_metric(), cfg.metric.name]))
            if 20 in ks:
                metrics.append("recall@20")
            metrics = list(dict.fromkeys(metrics))
            comparisons = paired(results, best, [BASELINE, ACTIVE], metrics)
            tested = results[best].per_user[Columns.USER_ID].tolist()
            importance = global_importance(ModelDir.load(systems[best]).model, tested)
            with output_dir(out, command="train") as staging:
                write_report(
                    results[best],
                    staging,
                    title=f"tailor train: {best} on the test period",
                    about=_about(cfg, chosen, split, active),
                    comparisons=[c for _, c in comparisons],
                    comparison_names=[(other, best) for other, _ in comparisons],
                    systems=results,
                    importance=importance,
                )
                _write_json(
                    staging / COMPARISONS_FILE,
                    [{"other": other, **c.to_dict()} for other, c in comparisons],
                )
                _write_json(staging / SYSTEMS_FILE, _systems_record(results, systems, best))
            record_headline(self.run / "model", results[best])
            record_headline(self.run / "baseline", results[BASELINE])
            main = cfg.metric.name
            text = ", ".join(
                f"{name} {float(r.metrics.get(main, float('nan'))):.4f}"
                for name, r in results.items()
            )
            return f"test {main}: {text}", {"active": active[0] if active else None}

        return self._stage(
            "evaluate",
            {"metric": cfg.section("metric"), "gate_metric": self._gate_metric()},
            work,
            outputs=(out / SYSTEMS_FILE,),
            upstream=("split", "refit"),
            extra={"active": active[0] if active is not None else None},
        )

    def _gate_metric(self) -> str:
        return self.config.gate.metric or self.config.metric.name

    # -- gate
    def stage_gate(self) -> StageResult:
        cfg = self.config
        target = self.run / GATE_FILE

        def work() -> tuple[str, dict[str, Any]]:
            decision = self.decide()
            decision.write(self.run)
            record_in_manifest(self.run / "model", decision)
            if decision.passed:
                return "accepted: every check passed", {"verdict": decision.verdict}
            return "refused: " + "; ".join(decision.reasons), {"verdict": decision.verdict}

        return self._stage(
            "gate",
            {"gate": cfg.section("gate"), "metric": self._gate_metric()},
            work,
            outputs=(target,),
            upstream=("evaluate",),
        )

    def decide(self, *, force: bool = False) -> GateDecision:
        """Evaluate every gate check from the evaluation's files and the model folder."""
        from tailor.models.model_dir import ModelDir
        from tailor.pipeline import Pipeline

        gate = self.config.gate
        metric = self._gate_metric()
        comparisons = _read_json(self.run / "evaluation" / COMPARISONS_FILE, default=[])
        systems = _read_json(self.run / "evaluation" / SYSTEMS_FILE)
        chosen = _read_json(self.run / "tuning" / SELECTION_FILE)
        best = str(chosen["best"])

        def against(other: str) -> dict[str, Any] | None:
            return next(
                (c for c in comparisons if c["other"] == other and c["metric"] == metric), None
            )

        checks = [
            beats(
                against(BASELINE),
                BASELINE,
                margin=gate.popularity_margin,
                significant=gate.significant,
                alpha=gate.alpha,
            )
        ]
        if best == BASELINE:
            checks[0] = _popularity_itself()
        checks.append(
            beats(
                against(ACTIVE),
                "the active model",
                margin=gate.active_margin,
                significant=gate.significant,
                alpha=gate.alpha,
            )
        )
        mine = systems.get(best, {})
        active = systems.get(ACTIVE)
        checks.append(
            coverage_check(
                mine.get("metrics", {}),
                active.get("metrics") if active else None,
                metric_k(metric),
                minimum=gate.min_coverage,
                ratio=gate.coverage_ratio,
            )
        )
        split = Split.load(self.run / "split")
        folder = ModelDir.load(self.run / "model")
        users = _sample_users(split.test, folder.model, gate.latency_users)
        checks.append(finite_check(folder.model, users, int(mine.get("nan_per_user", 0))))
        pipeline = Pipeline.from_model_dir(self.run / "model")
        checks.append(latency_check(pipeline, users, gate.latency_budget_ms))
        candidate = {
            "name": best,
            "model": folder.manifest["model"],
            "version": folder.version,
            "params": chosen.get("params", {}),
        }
        return decide(checks, force=force, candidate=candidate)

    def force_gate(self, refused: GateDecision) -> GateDecision:
        """The refused decision, forced: logged in gate.json and the manifest."""
        forced = GateDecision(refused.passed, refused.checks, True, refused.candidate, refused.at)
        forced.write(self.run)
        record_in_manifest(self.run / "model", forced)
        log.warning(
            "gate forced", reasons=refused.reasons, version=refused.candidate.get("version")
        )
        self.progress.note("gate refused the model, but --force publishes it (logged in gate.json)")
        return forced

    # -- publish
    def stage_publish(self) -> StageResult:
        cfg = self.config

        def work() -> tuple[str, dict[str, Any]]:
            decision = GateDecision.read(self.run / GATE_FILE)
            if not decision.publish:
                return "not published: the gate refused it", {}
            root = cfg.resolve(cfg.publish.registry)
            if root is None:
                return "not published: no [publish] registry configured", {}
            return _publish(
                root, self.run / "model", activate=cfg.publish.activate, forced=decision.forced
            )

        decision = _read_json(self.run / GATE_FILE)
        return self._stage(
            "publish",
            cfg.section("publish"),
            work,
            upstream=("gate",),
            extra={"verdict": decision.get("verdict")},
        )

    # -- report
    def stage_report(self) -> StageResult:
        def work() -> tuple[str, dict[str, Any]]:
            from tailor.training.report import write_run_report

            path = write_run_report(self.run, self.config, self.record, self.selection)
            return f"{path.name} written", {}

        # always runs: it shows this run's stages (skipped or not)
        self.record.forget("report")
        return self._stage("report", {}, work, upstream=("publish",), extra={"at": time.time()})


# ---- helpers ------------------------------------------------------------------------------------


def make_split(frame: pd.DataFrame, config: TrainConfig) -> Split:
    """The split of ``[split]`` (with its validation part)."""
    s = config.split
    if s.strategy == "temporal":
        if s.test_days is not None:
            times = pd.to_datetime(frame[Columns.TIMESTAMP])
            cut = times.max() - pd.Timedelta(days=s.test_days)
            split = temporal_split(frame, cut=cut)
        elif s.cut is not None:
            split = temporal_split(frame, cut=s.cut)
        else:
            split = temporal_split(frame, quantile=s.quantile if s.quantile is not None else 0.8)
    elif s.strategy == "user-temporal":
        if s.last_n is None and s.last_fraction is None:
            split = user_temporal_split(frame, last_fraction=0.2)
        else:
            split = user_temporal_split(frame, last_n=s.last_n, last_fraction=s.last_fraction)
    else:
        fraction = s.test_fraction if s.test_fraction is not None else 0.2
        split = random_split(frame, test_fraction=fraction, seed=s.seed)
    return with_validation(split, fraction=s.validation_fraction)


def source_files(config: TrainConfig) -> dict[str, Path]:
    """The files ``prepare`` reads (their contents go into its fingerprint)."""
    from tailor.data.sources.config import load_config

    files: dict[str, Path] = {}
    src = config.source
    cfg_path = config.resolve(src.config)
    if cfg_path is not None:
        files["source_config"] = cfg_path
        loaded = load_config(cfg_path)
        for name in ("interactions", "items", "users"):
            table = getattr(loaded, name)
            path = loaded.resolve(table.path) if table is not None else None
            if path is not None and path.exists():
                files[name] = path
    given = config.resolve(src.input)
    if given is not None:
        if not given.exists():
            raise ConfigError(f"[source] input {given} does not exist")
        files["interactions"] = given
    elif src.name == "online-retail" and "interactions" not in files:
        from tailor.data.sources.online_retail import BUNDLED

        files["interactions"] = BUNDLED
    return files


def parse_every(text: str) -> float:
    """``30s``, ``15m``, ``6h``, ``1d`` (or plain seconds) as seconds.

    Raises:
        ConfigError: not of that form, or not positive.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", text)
    if match is None:
        raise ConfigError(f"--every must look like 30s, 15m, 6h or 1d, got {text!r}")
    value = (
        float(match.group(1))
        * {"": 1, "s": 1, "m": 60, "h": 3600, "d": SECONDS_PER_DAY}[match.group(2)]
    )
    if value <= 0:
        raise ConfigError(f"--every must be positive, got {text!r}")
    return value


def train_every(
    config: TrainConfig,
    run_dir: Path | str | None,
    every_s: float,
    *,
    cycles: int | None = None,
    before_cycle: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **options: Any,
) -> list[RunSummary]:
    """Scheduled retraining: :func:`train` every ``every_s`` seconds (``cycles`` times, or
    forever). Each cycle reads the source afresh (its fingerprint moves when the data did, so
    unchanged data skips every stage), gates and publishes. A cycle that fails with a
    :class:`TailorError` is logged and the loop goes on; the served version stays.

    ``before_cycle(n)`` is called before cycle ``n`` (0-based), e.g. to fetch fresh data.
    """
    if every_s <= 0:
        raise ConfigError("the retraining interval must be positive")
    results: list[RunSummary] = []
    n = 0
    while cycles is None or n < cycles:
        if before_cycle is not None:
            before_cycle(n)
        started = time.monotonic()
        try:
            results.append(train(config, run_dir, **options))
        except TailorError as exc:
            log.error("training cycle failed", cycle=n, error=str(exc))
            progress = options.get("progress")
            if progress is not None:
                progress.note(f"cycle {n + 1} failed: {exc}")
        n += 1
        if cycles is not None and n >= cycles:
            break
        sleep(max(0.0, every_s - (time.monotonic() - started)))
    return results


def _open_run(run: Path, *, force: bool) -> None:
    """Create the run folder (tailor's marker in it), or check an existing one is ours."""
    try:
        check_output(run, force=force)
    except ConfigError as exc:
        if run.is_dir() and not force:
            raise ConfigError(
                f"run folder {run} is a non-empty folder that tailor did not create; "
                "choose an empty or new folder (a run folder is reused by later runs)"
            ) from None
        raise ConfigError(str(exc).replace("--out ", "run folder ")) from None
    run.mkdir(parents=True, exist_ok=True)
    marker = run / MARKER
    if not marker.is_file():
        with output_file(marker) as tmp:
            tmp.write_text(json.dumps({"command": "train"}) + "\n")


def _prefix(section: Any, upstream: str) -> str:
    import hashlib

    text = json.dumps({"section": section, "upstream": upstream}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _items_path(split_dir: Path) -> Path | None:
    path = split_dir / "items.parquet"
    return path if path.is_file() else None


def _read_items(split_dir: Path) -> pd.DataFrame | None:
    path = _items_path(split_dir)
    return pd.read_parquet(path) if path is not None else None


def _version(model_dir: Path) -> str | None:
    from tailor.models.artifacts import read_manifest

    try:
        return str(read_manifest(model_dir)["version"])
    except TailorError:
        return None


def _registry(config: TrainConfig) -> Any:
    root = config.resolve(config.publish.registry)
    if root is None:
        return None
    from tailor.serving.registry import ModelRegistry

    return ModelRegistry(root)


def _active_name(config: TrainConfig) -> str | None:
    registry = _registry(config)
    if registry is None or not registry.root.exists():
        return None
    try:
        return registry.active()
    except TailorError:
        return None


def _active(config: TrainConfig, *, exclude: str | None) -> tuple[str, Path] | None:
    """The served (active) version and its folder; None when none, or when it is the run's own
    model (already published)."""
    registry = _registry(config)
    name = _active_name(config)
    if registry is None or name is None or name == exclude:
        return None
    try:
        return name, registry.path(name)
    except TailorError:
        return None


def _publish(
    root: Path, model_dir: Path, *, activate: bool, forced: bool
) -> tuple[str, dict[str, Any]]:
    from tailor.serving.registry import ModelRegistry

    root.mkdir(parents=True, exist_ok=True)
    registry = ModelRegistry(root)
    version = _version(model_dir)
    if version is not None and version in registry.versions():
        name = version
        text = f"{name} was published before"
    else:
        name = registry.publish(model_dir)
        text = f"published {name}"
    if activate and registry.active() != name:
        registry.activate(name)
        text += ", now active (the server picks it up)"
    elif activate:
        text += ", active"
    if forced:
        text += " (forced past the gate)"
    return text, {"version": name, "registry": str(root), "forced": forced}


def _popularity_itself() -> Any:
    from tailor.training.gate import Check

    return Check(
        "beats popularity",
        False,
        "the chosen model is popularity itself: nothing personalised to publish",
    )


def _sample_users(test: pd.DataFrame, model: Any, n: int) -> list[str]:
    users = pd.unique(test[Columns.USER_ID].astype(str).to_numpy())
    known = [u for u in users.tolist() if model.users.number(u) is not None]
    rng = np.random.default_rng(0)
    if len(known) > n:
        known = [known[i] for i in sorted(rng.choice(len(known), n, replace=False))]
    return known


def _systems_record(
    results: Mapping[str, Any], systems: Mapping[str, Path], best: str
) -> dict[str, Any]:
    from tailor.models.artifacts import read_manifest
    from tailor.training.selection import headline

    out: dict[str, Any] = {}
    for name, result in results.items():
        manifest = read_manifest(systems[name])
        per_user = result.per_user
        numeric = per_user.select_dtypes("number")
        out[name] = {
            "role": "candidate" if name == best else name,
            "model": manifest["model"],
            "version": manifest["version"],
            "metrics": headline(result.metrics),
            "n_users": result.metrics.get("n_users"),
            "nan_per_user": int(numeric.isna().any(axis=1).sum()) if name == best else 0,
        }
    return out


def _about(
    config: TrainConfig, chosen: Mapping[str, Any], split: Split, active: tuple[str, Path] | None
) -> dict[str, str]:
    from tailor import __version__

    params = ", ".join(f"{k}={v}" for k, v in (chosen.get("params") or {}).items())
    return {
        "pipeline": config.name,
        "model": f"{chosen.get('model')} ({params})",
        "chosen on": f"validation {chosen.get('metric')}",
        "split": json.dumps(split.info.get("parameters", {}), default=str),
        "relevant": config.metric.relevant,
        "active model": active[0] if active is not None else "none",
        "tailor": __version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _record_data_fingerprints(model_dir: Path, split_dir: Path) -> None:
    """The data the model was fitted on, fingerprinted into its manifest
    (tailor.training.fingerprints)."""
    from tailor.training.fingerprints import fingerprints, record_fingerprints

    inputs = {
        name: split_dir / f"{name}.parquet"
        for name in ("train", "validation")
        if (split_dir / f"{name}.parquet").is_file()
    }
    record_fingerprints(model_dir, fingerprints(inputs=inputs))


def _track(config: TrainConfig, run: Path, summary: RunSummary, progress: Progress) -> None:
    """Log the run to MLflow (``tailor.training.tracking.log_run``) when ``[tracking]`` is
    enabled and a model was evaluated in this run (a run that skipped everything is not logged
    again): the model folder with its parameters, the test metrics, the data fingerprints, the
    run's report and gate, tagged with the gate's verdict. Returns nothing; the run id goes to
    the progress output and the run's history."""
    if not config.tracking.enabled:
        return
    evaluated = summary.stage("evaluate")
    gated = summary.stage("gate")
    if not any(s is not None and s.status == RAN for s in (evaluated, gated)):
        return
    import importlib

    try:
        tracking = importlib.import_module("tailor.training.tracking")
    except ImportError as exc:
        progress.note(f"[tracking] enabled, but MLflow is not installed ({exc})")
        return
    artifacts = [p for p in (run / GATE_FILE, run / "tuning" / SELECTION_FILE) if p.is_file()]
    tags = {"tailor.pipeline": config.name}
    if summary.gate is not None:
        tags["tailor.gate"] = summary.gate.verdict
    objective = (summary.selection.get("objective") or {}).get("name", "validation")
    tags["tailor.objective"] = str(objective)
    record = tracking.log_run(
        run / "model",
        test_metrics=run / "evaluation" / "metrics.json",
        extra_metrics=backtest_metrics(summary.selection),
        report=run / "evaluation" / "report.html",
        artifacts=[run / "report.html", *artifacts],
        experiment=config.tracking.experiment,
        tags=tags,
        tracking=config.tracking.uri,
        store=run / "mlruns" if config.tracking.uri is None else None,
    )
    summary.tracking = {"run_id": record.run_id, "tracking_uri": record.tracking_uri}
    progress.note(f"logged to MLflow: run {record.run_id} ({record.tracking_uri})")


def backtest_metrics(selection: Mapping[str, Any]) -> dict[str, float]:
    """The chosen candidate's backtest objective as metrics: ``backtest_<metric>_<origin>``
    per period and ``backtest_mean_<metric>`` (empty for the validation objective)."""
    periods = selection.get("periods") or {}
    if not periods:
        return {}
    metric = str(selection.get("metric", "ndcg@10"))
    out = {
        f"backtest_{metric}_{origin}": float(v) for origin, v in periods.items() if v is not None
    }
    chosen = (selection.get("validation") or {}).get(selection.get("best"))
    if chosen is not None:
        out[f"backtest_mean_{metric}"] = float(chosen)
    return out


def _append_history(run: Path, summary: RunSummary) -> None:
    with open(run / HISTORY_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(summary.to_dict(), default=str) + "\n")


def _read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {} if default is None else default


def _write_json(path: Path, data: Any) -> None:
    from tailor.training.gate import _clean

    path.write_text(json.dumps(_clean(data), indent=2, default=str) + "\n")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
