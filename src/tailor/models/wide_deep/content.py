"""Side features as codes: categorical values, price buckets and TF-IDF text of items and users.

Every categorical field numbers its values from 1 in order of first appearance in the training
table; code 0 is "missing or unseen", so a new item's unseen category falls back to what missing
values learned. The codes of all fields live in one table (``names``) split by ``cards``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

MISSING = ""
"""The name of every field's code 0."""


def column(table: pd.DataFrame | None, name: str | None, n: int) -> pd.Series | None:
    """``table[name]`` (aligned to the vocabulary, n rows), or None when it is absent."""
    if table is None or name is None or name not in table.columns:
        return None
    values = table[name]
    if len(values) != n:
        raise ValueError(f"feature column {name!r} has {len(values)} rows, expected {n}")
    return values


def as_text(values: pd.Series) -> np.ndarray:
    """Categorical values as text; missing ones as :data:`MISSING`."""
    out: np.ndarray = values.astype("string").fillna(MISSING).to_numpy(dtype=str)
    return out


def fit_field(values: pd.Series | None) -> np.ndarray:
    """A field's code names: MISSING, then each distinct value in order of first appearance."""
    if values is None:
        return np.array([MISSING])
    text = as_text(values)
    seen = pd.unique(text[text != MISSING])
    return np.concatenate([[MISSING], seen]).astype(str)


def encode_field(values: pd.Series | None, names: np.ndarray, n: int) -> np.ndarray:
    """Local codes (int64, 0 = missing or unseen) of ``values`` under a field's ``names``."""
    if values is None:
        return np.zeros(n, np.int64)
    index = pd.Index(names[1:])
    codes = index.get_indexer(as_text(values))
    return np.where(codes >= 0, codes + 1, 0).astype(np.int64)


def price_edges(prices: pd.Series | None, buckets: int) -> np.ndarray:
    """Inner bucket edges: the (1/b .. (b-1)/b) quantiles of the known positive prices."""
    if prices is None:
        return np.zeros(0, np.float32)
    known = pd.to_numeric(prices, errors="coerce").to_numpy(np.float64)
    known = known[np.isfinite(known) & (known > 0)]
    if not len(known):
        return np.zeros(0, np.float32)
    quantiles = np.quantile(known, np.arange(1, buckets) / buckets)
    return np.unique(quantiles).astype(np.float32)


def price_codes(prices: pd.Series | None, edges: np.ndarray, n: int) -> np.ndarray:
    """Bucket codes 1..len(edges)+1 of the prices; 0 for a missing or non-positive price."""
    if prices is None:
        return np.zeros(n, np.int64)
    values = pd.to_numeric(prices, errors="coerce").to_numpy(np.float64)
    codes = np.searchsorted(edges, values, side="right") + 1
    return np.where(np.isfinite(values) & (values > 0), codes, 0).astype(np.int64)


def _vectorizer(vocab: Sequence[str] | None, max_features: int) -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=True,
        max_features=max_features,
        vocabulary=None if vocab is None else {t: k for k, t in enumerate(vocab)},
        dtype=np.float32,
        sublinear_tf=True,
    )


def fit_text(
    texts: pd.Series | None, max_features: int
) -> tuple[np.ndarray, np.ndarray, sp.csr_array]:
    """TF-IDF of the items' text: (vocabulary, idf weights, items x vocabulary rows).

    Rows are L2-normalised; an item without text has an empty row. No text at all (or no term
    in it) gives an empty vocabulary.
    """
    n = 0 if texts is None else len(texts)
    if texts is None or not as_text(texts).any():
        return np.zeros(0, str), np.zeros(0, np.float32), sp.csr_array((n, 0), dtype=np.float32)
    vec = _vectorizer(None, max_features)
    try:
        rows = vec.fit_transform(as_text(texts))  # type: ignore[attr-defined]
    except ValueError:  # only stop words or punctuation
        return np.zeros(0, str), np.zeros(0, np.float32), sp.csr_array((n, 0), dtype=np.float32)
    vocab = vec.get_feature_names_out().astype(str)  # type: ignore[attr-defined]
    idf = vec.idf_.astype(np.float32)  # type: ignore[attr-defined]
    return vocab, idf, sp.csr_array(rows, dtype=np.float32)


def text_rows(texts: pd.Series | None, vocab: np.ndarray, idf: np.ndarray, n: int) -> sp.csr_array:
    """TF-IDF rows of new items' text with the fitted vocabulary and idf weights."""
    if texts is None or not len(vocab):
        return sp.csr_array((n, len(vocab)), dtype=np.float32)
    vec = _vectorizer(list(vocab), len(vocab))
    vec.fit([" ".join(vocab)])  # type: ignore[attr-defined]  # sets the vocabulary; idf below
    vec.idf_ = idf.astype(np.float64)  # type: ignore[attr-defined]
    return sp.csr_array(vec.transform(as_text(texts)), dtype=np.float32)  # type: ignore[attr-defined]
