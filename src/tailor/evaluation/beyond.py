r"""Beyond-accuracy metrics: coverage, novelty, intra-list diversity and popularity bias.

Each works on the *list matrix* of a batch of users: row ``u`` holds the item codes of the user's
top-K list (-1 where the list is shorter than K), with item codes indexing arrays over the item
vocabulary (catalogue). Per-user metrics return NaN for users where the metric is undefined (no
recommendations; for diversity, fewer than two items with features); the runner averages over
the users where it is defined and says so.

Stability: stable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tailor.types import NPVector


def exposure(lists: np.ndarray, k: int, n_items: int) -> np.ndarray:
    """How many of the top-``k`` lists contain each item (int64 array of length ``n_items``)."""
    top = lists[:, :k]
    return np.bincount(top[top >= 0], minlength=n_items)


def catalog_coverage(lists: np.ndarray, k: int, catalog: np.ndarray) -> float:
    r"""Catalogue coverage@K :math:`= |\bigcup_u L_u@K \cap C| / |C|`.

    The share of catalogue items :math:`C` (a boolean mask over item codes) recommended in at
    least one top-K list. Edge cases: an empty catalogue gives 0; items outside the catalogue do
    not count; users without recommendations add nothing.
    """
    return coverage_of(exposure(lists, k, len(catalog)), catalog)


def coverage_of(shown: np.ndarray, catalog: np.ndarray) -> float:
    """Coverage from exposure counts: share of catalogue items with exposure > 0."""
    size = int(catalog.sum())
    return float(((shown > 0) & catalog).sum() / size) if size else 0.0


def gini(values: NPVector) -> float:
    r"""Gini coefficient of a non-negative vector :math:`x` sorted ascending, :math:`n` entries:

    .. math:: G = \frac{\sum_{i=1}^{n} (2i - n - 1)\, x_{(i)}}{n \sum_i x_i}

    0 when every item gets the same exposure, :math:`(n-1)/n` when one item gets all of it.
    Edge cases: all zeros or an empty vector gives 0.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    return float((weights @ x) / (n * total))


def exposure_gini(lists: np.ndarray, k: int, catalog: np.ndarray) -> float:
    """Gini of exposure@K over the catalogue: :func:`gini` of :func:`exposure` on catalogue items.

    Never-recommended catalogue items count with exposure 0, so a model that shows a few items to
    everyone scores close to 1.
    """
    return gini(exposure(lists, k, len(catalog))[catalog])


def _per_user_mean(lists: np.ndarray, k: int, values: NPVector) -> NPVector:
    top = lists[:, :k]
    valid = top >= 0
    gathered = np.where(valid, values[np.maximum(top, 0)], 0.0)
    counts = valid.sum(axis=1)
    out = np.full(len(lists), np.nan)
    np.divide(gathered.sum(axis=1), counts, out=out, where=counts > 0)
    return out


def self_information(popularity: NPVector, n_users: int) -> NPVector:
    r"""Self-information :math:`I(i) = -\log_2 p(i)` with :math:`p(i) = \max(n_i, 1) / |U|`.

    :math:`n_i` is the number of training users who interacted with item :math:`i`, :math:`|U|`
    the number of training users. Items without training interactions are treated as seen once
    (the largest finite surprise), so novelty stays finite.
    """
    return -np.log2(np.maximum(np.asarray(popularity, np.float64), 1.0) / max(n_users, 1))


def novelty(lists: np.ndarray, k: int, information: NPVector) -> NPVector:
    r"""Novelty@K of each list: mean self-information of its items (Zhou et al. 2010),

    .. math:: nov_u@K = \frac{1}{|L_u@K|} \sum_{i \in L_u@K} I(i)

    with :math:`I` from :func:`self_information`. Edge cases: a list shorter than K averages over
    its own items; no recommendations gives NaN (excluded from the mean).
    """
    return _per_user_mean(lists, k, information)


def average_popularity(lists: np.ndarray, k: int, popularity: NPVector) -> NPVector:
    r"""Average recommended popularity (ARP, Abdollahpouri et al. 2019) of each list:

    .. math:: ARP_u@K = \frac{1}{|L_u@K|} \sum_{i \in L_u@K} n_i

    where :math:`n_i` is the number of training users of item :math:`i`. Edge cases as
    :func:`novelty`.
    """
    return _per_user_mean(lists, k, popularity)


def feature_matrix(items: pd.DataFrame, item_ids: np.ndarray, columns: list[str]) -> sp.csr_array:
    """One-hot item features from catalogue columns, rows L2-normalised, aligned to ``item_ids``.

    Each column's values become indicator features; a text value containing ``|`` (MovieLens genres
    such as ``"Action|Comedy"``) becomes several. Items missing from the catalogue, or with all
    listed columns missing, get an all-zero row (no features).
    """
    catalog = items.assign(item_id=items["item_id"].astype(str)).drop_duplicates("item_id")
    frame = catalog.set_index("item_id").reindex(pd.Index(item_ids)).reset_index(drop=True)
    blocks = []
    for col in columns:
        present = frame[col].dropna().astype(str)
        values = present.str.split("|").explode().str.strip()
        values = values[values != ""]
        codes, names = pd.factorize(values.to_numpy())
        blocks.append(
            sp.csr_array(
                (np.ones(len(codes)), (values.index.to_numpy(), codes)),
                shape=(len(item_ids), len(names)),
            )
        )
    if not blocks:
        return sp.csr_array((len(item_ids), 0))
    mat = sp.hstack(blocks, format="csr")
    mat.sum_duplicates()
    mat.data[:] = 1.0
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_array(sp.diags_array(scale) @ mat)


def intra_list_diversity(lists: np.ndarray, k: int, features: sp.csr_array) -> NPVector:
    r"""Intra-list diversity@K: one minus the mean pairwise cosine similarity of the list's items,

    .. math:: ILD_u@K = 1 - \frac{2}{m(m-1)} \sum_{a < b} \cos(f_a, f_b)
              = 1 - \frac{\lVert \sum_a f_a \rVert^2 - \sum_a \lVert f_a \rVert^2}{m(m-1)}

    over the :math:`m` items of :math:`L_u@K` that have features (unit vectors :math:`f`, from
    :func:`feature_matrix`). The second form needs no pairwise loop. Edge cases: items without
    features are left out of the pairs; lists with :math:`m < 2` give NaN (excluded from the
    mean). Range [0, 1] for non-negative features (one-hots): 0 when all items share their
    features.
    """
    top = lists[:, :k]
    has = np.zeros(features.shape[0] + 1, bool)
    has[:-1] = np.diff(features.indptr) > 0
    valid = (top >= 0) & has[np.where(top >= 0, top, -1)]
    rows = np.repeat(np.arange(len(top)), valid.sum(axis=1))
    member = sp.csr_array(
        (np.ones(len(rows)), (rows, top[valid])), shape=(len(top), features.shape[0])
    )
    summed = member @ features
    sq_norm = np.asarray(summed.multiply(summed).sum(axis=1)).ravel()
    m = valid.sum(axis=1).astype(np.float64)
    pairs = m * (m - 1)
    out = np.full(len(top), np.nan)
    np.divide(sq_norm - m, pairs, out=out, where=pairs > 0)
    return np.where(pairs > 0, 1.0 - out, np.nan)


BEYOND_NOTE = (
    "Coverage and Gini are over the catalogue; novelty, diversity and average popularity are "
    "averaged over the users with at least one recommended item (diversity: two with features)."
)
"""Plain-words statement of how beyond-accuracy metrics treat missing data, for reports."""
