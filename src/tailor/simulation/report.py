"""What a simulated run earned, per variant, and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def summarise(visits: pd.DataFrame) -> dict[str, Any]:
    """Visits, clicks, purchases, revenue and their rates per variant (``-`` without one)."""
    frame = visits.assign(variant=visits["variant"].fillna("-"))
    out: dict[str, Any] = {}
    for variant, rows in frame.groupby("variant", sort=True):
        n = len(rows)
        out[str(variant)] = {
            "visits": n,
            "clicks": int(rows.clicks.sum()),
            "purchases": int(rows.purchases.sum()),
            "revenue": round(float(rows.revenue.sum()), 2),
            "clicks_per_visit": round(float(rows.clicks.mean()), 4),
            "expected_clicks_per_visit": round(float(rows.expected_clicks.mean()), 4),
            "revenue_per_visit": round(float(rows.revenue.mean()), 4),
        }
    return out


def write_plot(visits: pd.DataFrame, file: Path) -> None:
    """Clicks per visit (rolling mean of 200 visits) per variant over the run, as a
    self-contained HTML page (plotly.js inline: opens offline)."""
    import plotly.graph_objects as go

    frame = visits.assign(variant=visits["variant"].fillna("-"))
    figure = go.Figure()
    for variant, rows in frame.groupby("variant", sort=True):
        rolling = rows.clicks.rolling(200, min_periods=20).mean()
        figure.add_scatter(x=rows.t, y=rolling, mode="lines", name=str(variant))
    figure.update_layout(
        title="Clicks per visit (rolling 200 visits)",
        xaxis_title="visit",
        yaxis_title="clicks per visit",
        template="plotly_white",
    )
    figure.write_html(file, include_plotlyjs=True, full_html=True)
