"""``tailor simulate``: a shop with known preferences, and visitors who browse a running tailor.

tailor simulate setup --out shop/ [--users 500 --items 200 --seed 0 --model recency-ease ...]
tailor serve --config shop/tailor.toml &
tailor simulate run --world shop/ --url http://127.0.0.1:8000 --visits 2000 --out run/
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from tailor.cli.options import out_folder


@click.group()
def simulate() -> None:
    """Simulate a shop's visitors against a running tailor (A/B tests, drift, KPIs)."""


@simulate.command()
@out_folder("Folder for world.json, store/ and tailor.toml.")
@click.option("--users", type=click.IntRange(2), default=500, show_default=True)
@click.option("--items", type=click.IntRange(2), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--history",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Purchases per user before the run (the training data).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    default=("recency-ease",),
    show_default=True,
    help="Models to fit and publish (repeatable; the first is active).",
)
@click.option("--ab", is_flag=True,
              help="Run an A/B test: the active model against its popular list (CTR).")  # fmt: skip
def setup(
    out: Path,
    force: bool,
    users: int,
    items: int,
    seed: int,
    history: int,
    models: tuple[str, ...],
    ab: bool,
) -> None:
    """Create a simulated shop: its world, a model store fitted on its history, a settings file."""
    from tailor.outputs import output_dir
    from tailor.serving.registry import ModelRegistry
    from tailor.simulation.setup import SETTINGS_FILE, WorldSpec, setup_shop

    spec = WorldSpec(n_users=users, n_items=items, seed=seed, history_per_user=min(history, items))
    with output_dir(out, command="simulate", force=force) as staging:
        setup_shop(staging, spec, models, final=out, ab=ab)
    store = ModelRegistry(out / "store")
    click.echo(
        f"shop in {out}: {users} users, {items} items, active {store.active()} of "
        f"{len(store.versions())} versions; "
        f"serve it with: tailor serve --config {out / SETTINGS_FILE}"
    )


@simulate.command()
@click.option(
    "--world",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    required=True,
    help="The folder `tailor simulate setup` wrote.",
)
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The server.")
@click.option("--visits", type=click.IntRange(1), default=1000, show_default=True)
@click.option(
    "--anonymous",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of visits by new anonymous sessions.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@out_folder("Folder for visits.parquet, summary.json and simulation.html.")  # fmt: skip
def run(
    world: Path, url: str, visits: int, anonymous: float, seed: int, out: Path, force: bool
) -> None:
    """Send visitors to a running server; write what they saw and did."""
    import httpx

    from tailor.errors import ConfigError
    from tailor.outputs import output_dir
    from tailor.simulation.report import summarise, write_plot
    from tailor.simulation.setup import WorldSpec
    from tailor.simulation.visitors import Visitors

    spec = WorldSpec.read(world)
    console = Console(stderr=True)
    with httpx.Client(base_url=url, timeout=10.0) as client:
        try:
            client.get("/health/live")
        except httpx.HTTPError as exc:
            raise ConfigError(f"no tailor server answers at {url}: {exc}") from None
        walkers = Visitors(spec.build(), client, seed=seed, anonymous_share=anonymous)
        with console.status("visiting") as status:
            rows = walkers.run(visits, lambda v: status.update(f"visit {v.t + 1:,}/{visits:,}"))
    summary = summarise(rows)
    with output_dir(out, command="simulate", inputs=[world], force=force) as staging:
        rows.to_parquet(staging / "visits.parquet", index=False)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2))
        write_plot(rows, staging / "simulation.html")
    table = Table("variant", "visits", "clicks/visit", "purchases", "revenue/visit")
    for variant, numbers in summary.items():
        table.add_row(
            variant,
            f"{numbers['visits']:,}",
            f"{numbers['clicks_per_visit']:.3f}",
            f"{numbers['purchases']:,}",
            f"{numbers['revenue_per_visit']:.2f}",
        )
    Console().print(table)
