"""Item content vectors: the catalogue's text, category, flags and price as one sparse row per item.

Each block is L2-normalised per item and scaled by the square root of its weight, then the whole
row is normalised, so a cosine between two items is the weighted mean of the blocks' cosines
(over the blocks both items have). scikit-learn is imported inside :func:`content_vectors`
only: a fitted content model scores without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.data.columns import Columns

PRICE_BUCKETS = 5
"""Price quantile buckets (one-hot): cheap and dear items are told apart, not ranked."""


@dataclass(frozen=True)
class BlockWeights:
    """Relative weight of each block of an item vector (0 leaves the block out)."""

    text: float = 1.0
    category: float = 1.0
    price: float = 0.0


def content_vectors(
    features: pd.DataFrame | None,
    n_items: int,
    *,
    text_columns: Sequence[str],
    weights: BlockWeights,
    ngram_max: int,
    min_df: int,
    svd_components: int | None,
    seed: int,
) -> tuple[sp.csr_array, np.ndarray]:
    """(items x features float32 CSR with unit rows, feature names) from a catalogue frame
    aligned to the item vocabulary (``Dataset.item_features``; None: every row empty).

    Text: TF-IDF (sublinear tf, word n-grams up to ``ngram_max``, words in at least ``min_df``
    items) of the ``text_columns`` present, joined; optionally reduced by TruncatedSVD to
    ``svd_components`` dimensions. Category: one-hot ``category`` plus every boolean column
    (e.g. MovieLens' ``genre_*`` flags). Price: one-hot quantile bucket of ``price``. An item
    with no content has an all-zero row.
    """
    blocks: list[sp.csr_array] = []
    names: list[str] = []
    if features is not None and len(features):
        for block, block_names, weight in (
            (*_text_block(features, text_columns, ngram_max, min_df, svd_components, seed),
             weights.text),
            (*_category_block(features), weights.category),
            (*_price_block(features), weights.price),
        ):  # fmt: skip
            if weight > 0 and block.shape[1]:
                blocks.append(sp.csr_array(_unit_rows(block) * np.sqrt(weight)))
                names.extend(block_names)
    if not blocks:
        return sp.csr_array((n_items, 0), dtype=np.float32), np.array([], dtype=str)
    stacked = _unit_rows(sp.csr_array(sp.hstack(blocks, format="csr")))
    return stacked.astype(np.float32), np.asarray(names, dtype=str)


def _unit_rows(mat: sp.csr_array | sp.csr_matrix) -> sp.csr_array:
    """Rows scaled to unit L2 norm; all-zero rows stay zero."""
    csr = sp.csr_array(mat, dtype=np.float64)
    norms = np.sqrt(np.asarray(csr.multiply(csr).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_array(sp.diags_array(scale) @ csr)


def _text_block(
    features: pd.DataFrame,
    columns: Sequence[str],
    ngram_max: int,
    min_df: int,
    svd_components: int | None,
    seed: int,
) -> tuple[sp.csr_array, list[str]]:
    present = [c for c in columns if c in features.columns]
    if not present:
        return sp.csr_array((len(features), 0)), []
    text = features[present].astype("string").fillna("").agg(" ".join, axis=1)
    if not text.str.strip().astype(bool).any():
        return sp.csr_array((len(features), 0)), []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        ngram_range=(1, ngram_max),
        min_df=min_df,
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",  # words of letters: sizes and codes are noise
    )
    try:
        tfidf = vectorizer.fit_transform(text.to_numpy())
    except ValueError:  # no word left (every text empty or below min_df)
        return sp.csr_array((len(features), 0)), []
    names = [f"text:{w}" for w in vectorizer.get_feature_names_out()]
    if svd_components is None or svd_components >= min(tfidf.shape) - 1:
        return sp.csr_array(tfidf), names
    from sklearn.decomposition import TruncatedSVD

    reduced = TruncatedSVD(svd_components, random_state=seed).fit_transform(tfidf)
    return sp.csr_array(reduced), [f"text:svd{k}" for k in range(svd_components)]


def _category_block(features: pd.DataFrame) -> tuple[sp.csr_array, list[str]]:
    parts: list[sp.csr_array] = []
    names: list[str] = []
    if Columns.CATEGORY in features.columns:
        codes, labels = pd.factorize(features[Columns.CATEGORY].astype("string"), sort=True)
        parts.append(_one_hot(codes, len(labels)))
        names.extend(f"category:{v}" for v in labels)
    flags = [c for c in features.columns if pd.api.types.is_bool_dtype(features[c])]
    if flags:
        values = features[flags].fillna(False).to_numpy(dtype=np.float64)
        parts.append(sp.csr_array(values))
        names.extend(f"flag:{c}" for c in flags)
    if not parts:
        return sp.csr_array((len(features), 0)), []
    return sp.csr_array(sp.hstack(parts, format="csr")), names


def _price_block(features: pd.DataFrame) -> tuple[sp.csr_array, list[str]]:
    if Columns.PRICE not in features.columns:
        return sp.csr_array((len(features), 0)), []
    price = pd.to_numeric(features[Columns.PRICE], errors="coerce")
    known = price.notna() & (price > 0)
    if known.sum() < PRICE_BUCKETS:
        return sp.csr_array((len(features), 0)), []
    edges = np.unique(np.quantile(price[known], np.linspace(0, 1, PRICE_BUCKETS + 1)[1:-1]))
    codes = np.where(known, np.searchsorted(edges, price.fillna(0.0), side="right"), -1)
    return _one_hot(codes, len(edges) + 1), [f"price:q{k}" for k in range(len(edges) + 1)]


def _one_hot(codes: np.ndarray, n: int) -> sp.csr_array:
    """One column per code; a negative code (missing) gives an empty row."""
    rows = np.flatnonzero(codes >= 0)
    data = np.ones(len(rows))
    return sp.csr_array((data, (rows, codes[rows])), shape=(len(codes), n))
