"""What a simulated run earned, per variant, and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from tailor.experiments.config import Experiment


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


def resplit(events: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """The same visits assigned again by ``experiment``'s salt: every event's
    ``recommendation_id`` suffix names the variant the new split gives its visitor. When both
    arms were served alike (an A/A test), each resplit is an A/A test of its own, so many salts
    measure a test's false-alarm rate from one simulated run."""
    from tailor.experiments.assignment import Splitter

    splitter = Splitter(experiment)

    def variant_of(visitor: object) -> str:
        chosen = splitter.variant(str(visitor))
        return chosen.name if chosen is not None else "-"

    visitor = events["user_id"].fillna(events["session_id"])
    base = events["recommendation_id"].str.rsplit(":", n=2).str[0]
    suffix = f":{experiment.name}:" + visitor.map(variant_of)
    return events.assign(
        recommendation_id=(base + suffix).where(events["recommendation_id"].notna())
    )
