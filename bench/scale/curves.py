"""Scale curves: fit time, recommend time and peak memory per model, from 10^5 to 10^7 interactions.

Data: the synthetic shop export (``tailor.testing.shop.generate_shop``: Zipf item popularity,
favourite categories, sessions, a view -> cart -> purchase funnel), every event row one
interaction weighted by its type (view 1, add to cart 3, purchase 5), about ten interactions per
user and a hundred per item up to 10^5 items: 10^7 rows = about 7 x 10^5 users and 10^5 items.

Each (size, model) runs in its own process, so its peak resident memory (``ru_maxrss``) is its
own: the process reads the interactions (Parquet), builds the Dataset (``rss_data``), fits with
the model's defaults and recommends the top 10 (seen items left out) for a sample of users, then
reports wall and CPU seconds of each step (the plot shows CPU seconds: on a shared machine wall
time grows with the load, CPU time hardly). Recommend-all time is extrapolated linearly from the
sample (``recommend_all_s_est``, ``recommend_all_cpu_s_est``): scoring is per user block, so the
time is linear in the users.
A model whose fit is refused (EASE's dense item x item matrices over the memory budget) records
the refusal; one whose predicted fit time passes ``--max-fit-s`` (from its last size, scaled by
the growth in rows) is skipped and says so.

    .venv/bin/python bench/scale/curves.py [--sizes 100000,1000000,10000000] [--models ...]

Writes ``bench/results/scale_curves.json`` and ``docs/img/scale-curves.png``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "scale_curves.json"
PLOT = ROOT / "docs" / "img" / "scale-curves.png"
MODELS = ("popularity", "itemknn", "ease", "recency-ease", "als", "bpr", "mf-sgd")
EVENT_WEIGHT = {0: 1.0, 1: 3.0, 2: 5.0}  # view, addtocart, transaction (shop.EVENT_NAMES order)
ROWS_PER_VISITOR = 13.75  # generate_shop's human rows per visitor with its default session sizes
DENSE = ("ease", "recency-ease")  # fit time grows with items^3 (one dense inverse), not rows
DENSE_FLOPS_PER_S = 2e10  # float32 Cholesky + inverse on this machine's 2 cores, about


def catalogue_size(rows: int) -> int:
    return int(min(max(rows // 100, 1_000), 100_000))


def predicted_fit_s(model: str, last_rows: int, last_s: float, rows: int) -> float:
    """The next size's fit time: for EASE the last one plus the inverse's items^3 flops (a small
    catalogue's fit is mostly overhead, so scaling it by the cube would overshoot), else linear
    in rows."""
    if model in DENSE:
        return last_s + catalogue_size(rows) ** 3 / DENSE_FLOPS_PER_S
    return last_s * rows / last_rows


def shop_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """About ``rows`` interactions from the shop generator (bots left out)."""
    from tailor.testing.shop import EVENT_NAMES, generate_shop

    visitors = max(int(rows / ROWS_PER_VISITOR), 100)
    items = catalogue_size(rows)
    export = generate_shop(
        n_visitors=visitors,
        n_items=items,
        n_categories=max(items // 250, 10),
        days=90,
        n_bots=1,  # the generator needs one; its rows are dropped below
        bot_days=1,
        bot_events_per_day=10,
        seed=seed,
    )
    events = export.events
    events = events[~events["visitorid"].isin(export.bots)]
    code = pd.Categorical(events["event"], categories=list(EVENT_NAMES)).codes
    return pd.DataFrame(
        {
            "user_id": events["visitorid"].astype(np.int64),
            "item_id": events["itemid"].astype(np.int64),
            "weight": np.vectorize(EVENT_WEIGHT.get)(code).astype(np.float32),
            "timestamp": pd.to_datetime(events["timestamp"].astype(np.int64), unit="ms"),
        }
    )


def rss_bytes() -> int:
    """Current resident memory of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(path: str, model_name: str, sample_users: int, queue: Any) -> None:
    """Child process: load, fit, recommend a sample; put one result dict on ``queue``."""
    import warnings

    from tailor.data.dataset import Dataset
    from tailor.errors import ConfigError
    from tailor.models.base import FitOptions
    from tailor.models.registry import create_model

    warnings.simplefilter("ignore")
    out: dict[str, Any] = {"model": model_name}
    frame = pd.read_parquet(path)
    # warm-up on a slice, so numba's compilation is not counted as fit or recommend time
    head = Dataset.from_frame(frame.head(5_000), weight="weight")
    create_model(model_name).fit(head, FitOptions()).recommend(head.users.ids[:10], n=10)
    data = Dataset.from_frame(frame, weight="weight")
    del frame, head
    out.update(users=data.n_users, items=data.n_items, rows=len(data.interactions))
    out["rss_data_mb"] = rss_bytes() / 2**20
    model = create_model(model_name)
    t0, c0 = time.perf_counter(), cpu_s()
    try:
        model.fit(data, FitOptions())
    except (ConfigError, MemoryError) as exc:
        out["refused"] = str(exc)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put(out)
        return
    out["fit_s"] = time.perf_counter() - t0
    out["fit_cpu_s"] = cpu_s() - c0
    out["peak_rss_fit_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = np.random.default_rng(0)
    ids = data.users.ids
    sample = ids[rng.choice(len(ids), min(sample_users, len(ids)), replace=False)]
    t0, c0 = time.perf_counter(), cpu_s()
    recs = model.recommend(sample, n=10)
    rec_s = time.perf_counter() - t0
    out.update(
        recommend_users=len(sample),
        recommend_s=rec_s,
        recommend_cpu_s=cpu_s() - c0,
        recommend_all_s_est=rec_s * len(ids) / len(sample),
        recommend_all_cpu_s_est=(cpu_s() - c0) * len(ids) / len(sample),
        lists=int(recs["user_id"].nunique()),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    queue.put(out)


def run_one(path: str, model: str, sample_users: int, timeout_s: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=measure, args=(path, model, sample_users, queue))
    proc.start()
    try:
        result: dict[str, Any] = queue.get(timeout=timeout_s)
    except Exception:
        proc.kill()
        result = {"model": model, "failed": f"no result within {timeout_s:.0f} s (killed)"}
    proc.join(timeout=30)
    if proc.exitcode not in (0, None) and "failed" not in result and "fit_s" not in result:
        result["failed"] = f"exit code {proc.exitcode}"
    return result


def all_users_cpu_s(result: dict[str, Any]) -> float:
    """CPU seconds of top 10 for every user, from the sample (CPU time, unlike wall time, does
    not grow with what else the machine runs)."""
    return float(result["recommend_cpu_s"] * result["users"] / result["recommend_users"])


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for model in MODELS:
        rows = [r for r in results if r["model"] == model and "fit_s" in r]
        if not rows:
            continue
        x = [r["rows"] for r in rows]
        axes[0].loglog(x, [max(r["fit_cpu_s"], 0.01) for r in rows], "o-", label=model)
        axes[1].loglog(x, [max(all_users_cpu_s(r), 0.01) for r in rows], "o-", label=model)
        axes[2].loglog(x, [r["peak_rss_fit_mb"] for r in rows], "o-", label=model)
    titles = ("fit (CPU s)", "top 10 for every user (CPU s, est.)", "peak memory after fit (MB)")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("interactions")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("tailor scale curves (synthetic shop, 2 cores)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sample-users", type=int, default=20_000)
    parser.add_argument("--max-fit-s", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--replot", action="store_true", help="only redraw --plot from --out")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(args.out.read_text())["results"], args.plot)
        return 0
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    models = args.models.split(",")
    results: list[dict[str, Any]] = []
    last: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tailor-scale-") as tmp:
        for size in sizes:
            t0 = time.perf_counter()
            frame = shop_frame(size)
            path = str(Path(tmp) / f"shop-{size}.parquet")
            frame.to_parquet(path)
            gen_s = time.perf_counter() - t0
            print(f"size {size:,}: {len(frame):,} rows generated in {gen_s:.1f} s", flush=True)
            del frame
            for model in models:
                if model in last:
                    rows, fit_s = last[model]
                    predicted = predicted_fit_s(model, rows, fit_s, size)
                    if predicted > args.max_fit_s:
                        results.append(
                            {
                                "model": model,
                                "size": size,
                                "skipped": f"predicted fit {predicted:.0f} s > --max-fit-s",
                            }
                        )
                        print(f"  {model}: skipped (predicted {predicted:.0f} s)", flush=True)
                        continue
                load = os.getloadavg()[0]
                result = run_one(path, model, args.sample_users, timeout_s=3 * args.max_fit_s)
                result.update(size=size, load_before=round(load, 2))
                results.append(result)
                if "fit_s" in result:
                    last[model] = (size, result["fit_s"])
                shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
                print(f"  {shown}", flush=True)
    payload = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9, 1),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(payload, indent=1))
    os.replace(tmp_out, args.out)
    plot(results, args.plot)
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
