"""Data-parallel Wide & Deep training under torchrun::

    torchrun --standalone --nproc_per_node 2 -m tailor.models.wide_deep.distributed \\
        --train train.parquet [--items items.parquet] [--users users.parquet] \\
        [--validation val.parquet] [--param key=value ...] --out model_dir

Every process reads the same files, joins the process group (gloo on CPU, nccl on CUDA) and
fits; ``WideDeep.fit`` sees the group, trains on its share of each epoch's batches and averages
gradients, so all processes end with the same parameters. Rank 0 saves the model to ``--out``;
with ``--states`` every rank also writes its learned arrays to ``STATES/rank<r>.npz`` (the test
compares them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from tailor.data.dataset import Dataset
from tailor.models.base import FitOptions
from tailor.models.wide_deep.model import WideDeep


def _read(path: str | None) -> pd.DataFrame | None:
    if path is None:
        return None
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def _params(pairs: list[str]) -> dict[str, object]:
    params: dict[str, object] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        params[key] = json.loads(value)
    return params


def main(argv: list[str] | None = None) -> None:
    """Fit one process's part of a data-parallel run (see the module docstring)."""
    import torch
    import torch.distributed as dist

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--items")
    parser.add_argument("--users")
    parser.add_argument("--validation")
    parser.add_argument("--param", action="append", default=[], help="key=JSON value")
    parser.add_argument("--out", required=True)
    parser.add_argument("--states")
    args = parser.parse_args(argv)
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        frame = _read(args.train)
        assert frame is not None
        data = Dataset.from_frame(
            frame, item_features=_read(args.items), user_features=_read(args.users)
        )
        model = WideDeep(**_params(args.param))  # type: ignore[arg-type]
        model.fit(data, FitOptions(validation=_read(args.validation)))
        rank = dist.get_rank()
        if args.states:
            Path(args.states).mkdir(parents=True, exist_ok=True)
            arrays = {k: v for k, v in model.state_arrays().items() if v.dtype.kind == "f"}
            np.savez(Path(args.states) / f"rank{rank}.npz", **arrays)  # type: ignore[arg-type]
        if rank == 0:
            model.save(args.out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
