"""Randomness helpers (SPEC 7): seeds in configs, generators at run time, derived seeds per key."""

from __future__ import annotations

import hashlib
from typing import TypeAlias

import numpy as np

RNGLike: TypeAlias = np.random.Generator | int | None


def make_rng(rng: RNGLike = None) -> np.random.Generator:
    """Return a Generator from a seed, an existing Generator, or fresh entropy."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def stable_hash(*keys: object) -> int:
    """A 64-bit hash of ``keys`` that is stable across processes and Python versions."""
    digest = hashlib.blake2b("\x1f".join(map(str, keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def derive_rng(seed: int | None, *keys: object) -> np.random.Generator:
    """A generator seeded from ``seed`` and ``keys``: the same inputs give the same stream."""
    return np.random.default_rng([stable_hash(seed, *keys)])
