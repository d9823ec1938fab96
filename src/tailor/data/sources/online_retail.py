"""The ``online-retail`` source: the UCI Online Retail data set, bundled with tailor.

Mapping (one purchase event per invoice line):
``CustomerID`` -> ``user_id``, ``StockCode`` -> ``item_id``, ``InvoiceNo`` -> ``session_id``,
``InvoiceDate`` -> ``timestamp``, ``Quantity`` -> ``value``, ``UnitPrice`` -> ``price``;
``Description`` -> item ``title`` and ``UnitPrice`` -> item ``price``; ``Country`` -> user
``country``. Cancellations (invoice numbers starting with ``C``) are dropped by cleaning, whose
defaults for this source set ``cancellation_prefix = "C"``.

Stability: stable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tailor.data.columns import Columns
from tailor.data.sources.config import InteractionsConfig, SourceConfig
from tailor.data.sources.generic import read_raw_interactions
from tailor.data.sources.raw import RawData

NAME = "online-retail"
BUNDLED = Path(__file__).resolve().parents[2] / "datasets" / "online_retail.parquet"
"""The bundled copy: every raw column, zstd Parquet (see ``tailor/datasets/README.md``)."""

MAPPING = InteractionsConfig(
    columns={
        Columns.USER_ID: "CustomerID",
        Columns.ITEM_ID: "StockCode",
        Columns.SESSION_ID: "InvoiceNo",
        Columns.TIMESTAMP: "InvoiceDate",
        Columns.VALUE: "Quantity",
        Columns.PRICE: "UnitPrice",
    },
    timestamp_format="%Y-%m-%d %H:%M:%S",
    event_type="purchase",
    item_columns={Columns.TITLE: "Description", Columns.PRICE: "UnitPrice"},
    user_columns={"country": "Country"},
)
"""The column mapping; ``configs/sources/online-retail.toml`` is the same as a config file."""

CLEANING_DEFAULTS: dict[str, Any] = {"cancellation_prefix": "C"}
"""Cleaning options that differ from CleaningConfig's defaults for this source."""

PROVENANCE = {
    "source": NAME,
    "dataset": "Online Retail (UCI Machine Learning Repository, id 352)",
    "citation": "Chen, D., Sain, S. L. and Guo, K. (2012). Data mining for the online retail "
    "industry: a case study of RFM model-based customer segmentation using data mining. "
    "Journal of Database Marketing and Customer Strategy Management 19(3), 197-208.",
    "doi": "10.24432/C5BW33",
    "licence": "CC0 1.0 (see tailor/datasets/README.md)",
}


def read_online_retail(input: Path | None = None, config: SourceConfig | None = None) -> RawData:
    """Read the bundled file, or ``input`` (the original CSV, gzipped or not, or a Parquet copy).

    A config's ``[interactions]`` table, when present, replaces the built-in mapping (and its
    ``path``, when set, the bundled file).
    """
    mapping = config.interactions if config and config.interactions else MAPPING
    configured = config.resolve(mapping.path) if config is not None else None
    path = Path(input) if input is not None else configured or BUNDLED
    frame = read_raw_interactions(path, mapping)
    provenance = {**PROVENANCE, "files": [str(path)], "bundled": path == BUNDLED}
    return RawData(NAME, frame, provenance=provenance)
