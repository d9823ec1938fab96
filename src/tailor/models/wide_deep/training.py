"""The training loop (single process or data-parallel under torchrun) and the fold-in step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from tailor.data.interactions import Interactions
from tailor.errors import ConfigError, DataError
from tailor.models.base import FitOptions
from tailor.models.wide_deep.batches import batch_indices, positive_pairs, with_negatives
from tailor.models.wide_deep.config import WideDeepConfig

if TYPE_CHECKING:
    import torch

    from tailor.models.wide_deep.network import WideDeepNet

FOLD_IN_LEARNING_RATE = 0.05
"""Adam step size of fold-in: only one vector per user moves, a few dozen steps."""
Validate = Callable[[Callable[[np.ndarray], np.ndarray]], float]
"""Validation: (score rows of user numbers) -> NDCG@10."""


@contextmanager
def deterministic() -> Iterator[None]:
    """Torch's deterministic kernels while training: multi-threaded gradient sums otherwise
    differ in the last bits between runs, and Adam turns such noise on the parameters the
    softmax cannot see (e.g. a field holding one value) into full-size steps."""
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def pick_device(wanted: str) -> str:
    """``cuda`` when asked for (or ``auto`` and present), else ``cpu``."""
    import torch

    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    return "cuda" if wanted != "cpu" and torch.cuda.is_available() else "cpu"


def process_group() -> tuple[int, int]:
    """(rank, world size) of an initialised torch.distributed group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train(
    init: dict[str, Any],
    item_text: sp.csr_array,
    inter: Interactions,
    cfg: WideDeepConfig,
    options: FitOptions,
    rng: np.random.Generator,
    validate: Validate | None,
) -> tuple[WideDeepNet, list[dict[str, float]], int]:
    """Train a new network; returns it (on the CPU, eval mode), the per-epoch metrics and the
    epoch whose parameters it holds."""
    import torch

    from tailor.models.wide_deep.network import WideDeepNet

    users, items = positive_pairs(inter)
    if not len(users):
        raise DataError("Wide & Deep needs at least one interaction to fit")
    device = pick_device(cfg.device)
    if options.threads:
        torch.set_num_threads(options.threads)
    seed = int(rng.integers(2**31 - 1))
    devices = [torch.cuda.current_device()] if device == "cuda" else []
    with torch.random.fork_rng(devices=devices), deterministic():
        torch.manual_seed(seed)  # initial parameters and dropout: the same in every process
        net = WideDeepNet(
            torch.from_numpy(init["user_codes"].astype(np.int64)),
            torch.from_numpy(init["item_codes"].astype(np.int64)),
            [int(c) for c in init["field_cards"]],
            init["vocab"],
            cfg.embedding_size,
            cfg.hidden,
            cfg.dropout,
        )
        return _train(net, item_text, users, items, init, cfg, options, seed, device, validate)


def _train(
    net: WideDeepNet,
    item_text: sp.csr_array,
    users: np.ndarray,
    items: np.ndarray,
    init: dict[str, Any],
    cfg: WideDeepConfig,
    options: FitOptions,
    seed: int,
    device: str,
    validate: Validate | None,
) -> tuple[WideDeepNet, list[dict[str, float]], int]:
    import torch

    from tailor.models.wide_deep.network import SampledSoftmax
    from tailor.models.wide_deep.state import sparse_tensor

    rank, world = process_group()
    net.to(device)
    net.item_text = sparse_tensor(item_text, device)
    step: torch.nn.Module = SampledSoftmax(net)
    if world > 1:
        step = torch.nn.parallel.DistributedDataParallel(step)
    optimiser = torch.optim.AdamW(
        net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    order_rng = np.random.default_rng([seed, 0])  # shared: every rank the same batches
    sample_rng = np.random.default_rng([seed, 1, rank])
    generator = torch.Generator(device=device).manual_seed(seed + rank)
    n_items = int(init["n_items"])
    # an item without a positive keeps no id: hidden in every step, zero at the end, so a
    # catalogue item nobody bought is scored by its content (as a new item is)
    pool = np.unique(items)
    has_id = torch.zeros(n_items, dtype=torch.bool, device=device)
    has_id[torch.from_numpy(pool).to(device)] = True
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    best_epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        total, steps = 0.0, 0
        for idx in batch_indices(len(users), cfg.batch_size, order_rng, rank, world):
            candidates = with_negatives(items[idx], cfg.negatives, pool, sample_rng)
            cand = torch.from_numpy(candidates).to(device)
            keep = torch.rand(cand.shape, generator=generator, device=device) >= cfg.id_dropout
            keep &= has_id[cand]
            loss = step(torch.from_numpy(users[idx]).to(device), cand, keep.float())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, steps = total + float(loss.detach()), steps + 1
        metrics = {"epoch": float(epoch), "train_loss": total / max(steps, 1)}
        if validate is not None:
            net.eval()
            value = validate(_eval_rows(net, n_items, device))
            metrics["validation_ndcg@10"] = value
            if best is None or value > best[0]:
                best = (value, {k: v.detach().clone() for k, v in net.state_dict().items()})
                best_epoch = epoch
        history.append(metrics)
        if options.on_epoch is not None:
            options.on_epoch(epoch, metrics)
        patience = cfg.early_stopping_patience
        if validate is not None and patience is not None and epoch - best_epoch >= patience:
            break
    if best is not None and cfg.early_stopping_patience is not None:
        net.load_state_dict(best[1])
    else:
        best_epoch = len(history)
    with torch.no_grad():
        net.item_emb.weight[~has_id] = 0.0
        net.item_bias.weight[~has_id] = 0.0
    net.refresh_text_cache()
    net.item_text = None
    return net.cpu().eval(), history, best_epoch


def _eval_rows(net: WideDeepNet, n_items: int, device: str) -> Callable[[np.ndarray], np.ndarray]:
    """score_rows for validation while training: the current parameters, no dropout."""
    import torch

    with torch.no_grad():
        text = net.text_vectors()
    items = torch.arange(n_items, device=device)[None, :]
    step = max(1, (1 << 20) // max(n_items, 1))

    def rows(user_nums: np.ndarray) -> np.ndarray:
        out = np.empty((len(user_nums), n_items), np.float32)
        with torch.no_grad():
            for start in range(0, len(user_nums), step):
                block = torch.from_numpy(np.asarray(user_nums[start : start + step], np.int64))
                scores = net.logits(block.to(device), items, text)
                out[start : start + len(block)] = scores.cpu().numpy()
        return out

    return rows


def fold_in_vectors(
    net: WideDeepNet,
    users: np.ndarray,
    seen: sp.csr_array,
    start: np.ndarray,
    cfg: WideDeepConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """New id vectors (len(users), k) of ``users`` from their ``seen`` items: Adam steps of the
    sampled-softmax loss on the vectors alone (every network parameter frozen, no dropout)."""
    import torch

    rows = seen[users]
    owner = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
    items = rows.indices.astype(np.int64)
    if not len(items):
        return start.astype(np.float32)
    pool = np.flatnonzero(np.diff(seen.tocsc().indptr))  # items someone has (as in training)
    net.eval()
    vectors = torch.nn.Parameter(torch.from_numpy(np.array(start, np.float32)))
    optimiser = torch.optim.Adam([vectors], lr=FOLD_IN_LEARNING_RATE)
    user_nums = torch.from_numpy(users.astype(np.int64))[owner]
    text = net.text_cache
    flags = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    try:
        with deterministic():
            for _ in range(cfg.fold_in_epochs):
                cand = torch.from_numpy(with_negatives(items, cfg.negatives, pool, rng))
                logits = net.logits(user_nums, cand, text, user_vecs=vectors[owner])
                loss = torch.nn.functional.cross_entropy(
                    logits, torch.zeros(len(items), dtype=torch.int64)
                )
                optimiser.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimiser.step()
    finally:
        for param, flag in zip(net.parameters(), flags, strict=True):
            param.requires_grad_(flag)
    out: np.ndarray = vectors.detach().numpy().astype(np.float32)
    return out
