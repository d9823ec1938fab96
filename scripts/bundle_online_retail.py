"""Convert the UCI Online Retail CSV into the Parquet file bundled with tailor (run once).

Usage: ``python scripts/bundle_online_retail.py [CSV] [OUT]``. Every raw column is kept under its
original name, in the original row order, so the bundled file and the CSV hold the same data:
``InvoiceNo``, ``StockCode``, ``Description`` and ``Country`` as text, ``Quantity``,
``UnitPrice`` and ``CustomerID`` as float64 (as the CSV writes them), ``InvoiceDate`` as a
timestamp (parsed with its explicit format). Compressed with zstd at a high level.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT / "../shared/data/online-retail/online_retail.csv.gz"
DEFAULT_OUT = ROOT / "src/tailor/datasets/online_retail.parquet"
TEXT = ("InvoiceNo", "StockCode", "Description", "Country")


def convert(csv: Path, out: Path) -> pa.Table:
    """Read the CSV, parse InvoiceDate and write zstd Parquet; returns the table written."""
    frame = pd.read_csv(csv, dtype=dict.fromkeys(TEXT, str), keep_default_na=False, na_values=[""])
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(
        pa.schema(
            [
                pa.field(f.name, pa.timestamp("s") if f.name == "InvoiceDate" else f.type)
                if not pa.types.is_large_string(f.type)
                else pa.field(f.name, pa.string())
                for f in table.schema
            ]
        )
    ).replace_schema_metadata(None)
    pq.write_table(
        table,
        out,
        compression="zstd",
        compression_level=19,
        use_dictionary=True,
        row_group_size=1 << 20,
    )
    return table


def main() -> None:
    """Entry point."""
    csv = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CSV
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    table = convert(csv, out)
    sys.stdout.write(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {table.num_rows} rows)\n")


if __name__ == "__main__":
    main()
