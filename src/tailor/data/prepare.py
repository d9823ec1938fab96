"""prepare(): read a source and clean it, in one call (what ``tailor data prepare`` runs).

Stability: stable.
"""

from __future__ import annotations

from pathlib import Path

from tailor.data.cleaning import CleaningConfig, CleaningReport, StepCallback, clean
from tailor.data.prepared import Prepared
from tailor.data.sources import SourceConfig, as_config, get_source


def prepare(
    name: str,
    input: Path | str | None = None,
    config: Path | str | SourceConfig | None = None,
    *,
    cleaning: CleaningConfig | None = None,
    on_step: StepCallback | None = None,
) -> tuple[Prepared, CleaningReport]:
    """Read source ``name`` and clean it.

    Args:
        name: ``online-retail``, ``movielens-100k`` or ``generic``.
        input: overrides the source's input file or folder.
        config: a source config file; its ``[cleaning]`` table overrides the source's defaults.
        cleaning: use exactly this cleaning config instead (ignores the file's table).
        on_step: progress callback, called with a short stage name.

    Returns:
        The prepared tables and the cleaning report.
    """
    source = get_source(name)
    loaded = as_config(config)
    if on_step:
        on_step("reading")
    raw = source.read(Path(input) if input is not None else None, loaded)
    if cleaning is None:
        table = loaded.cleaning if loaded is not None else {}
        cleaning = CleaningConfig.from_table(table, source.cleaning_defaults)
    return clean(raw, cleaning, on_step=on_step)
