"""What a model's learned state is: the one declaration per model, and its checks.

Each model class declares ``params_spec``: array name -> :class:`Dense` (an ndarray attribute of
that name) or :class:`Sparse` (a scipy CSR attribute, saved by :func:`csr_params` as
``NAME_data``/``_indices``/``_indptr``/``_shape``), with a dtype kind and a shape whose
dimensions are numbers or names. ``RecommenderBase.state_arrays``/``load_state`` derive saving
and loading from it. ``"users"`` and ``"items"`` are the
manifest's sizes; any other name is bound by its first use and must agree everywhere after
(``"k"``: the factor count); ``"fitted<=items"`` binds ``fitted`` and requires it to be at most
``items`` (models grown by ``partial_fit`` keep their fitted weight matrix until the next fit).

Loading checks every array against the spec: present, no extras, dtype kind, shape, finite
floats, and a consistent CSR structure. Without these checks a NaN weight matrix was served as
empty lists and a matrix of the wrong shape as lists of zero scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailor.errors import ArtifactError

Dim = int | str


@dataclass(frozen=True)
class Dense:
    """A plain array: ``kind`` is the accepted numpy dtype kinds ("f" float, "i" signed int,
    "U" text), ``shape`` its dimensions."""

    kind: str
    shape: tuple[Dim, ...]


@dataclass(frozen=True)
class Sparse:
    """A CSR matrix stored as four arrays; ``kind`` is the kind of its data."""

    kind: str
    shape: tuple[Dim, Dim]


ParamSpec = Mapping[str, Dense | Sparse]

_KIND_NAMES = {"f": "float", "i": "integer", "U": "text", "b": "bool"}
_SPARSE_PARTS = ("data", "indices", "indptr", "shape")


def check_params(
    arrays: Mapping[str, np.ndarray], spec: ParamSpec, n_users: int, n_items: int, file: str
) -> None:
    """Raise ArtifactError naming ``file`` and the array when ``arrays`` do not match ``spec``."""
    dims: dict[str, int] = {"users": n_users, "items": n_items}
    expected: set[str] = set()
    for name, entry in spec.items():
        if isinstance(entry, Dense):
            expected.add(name)
            _check_dense(arrays, name, entry, dims, file)
        else:
            expected.update(f"{name}_{part}" for part in _SPARSE_PARTS)
            _check_sparse(arrays, name, entry, dims, file)
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ArtifactError(
            f"{file}: unexpected array {extra[0]!r} (written by another kind of model?)"
        )


def check_csr(
    indptr: np.ndarray, indices: np.ndarray, n_rows: int, n_cols: int, file: str, name: str
) -> None:
    """A consistent CSR structure of ``n_rows`` x ``n_cols`` (what scipy does not fully check)."""
    if indptr.ndim != 1 or len(indptr) != n_rows + 1:
        raise ArtifactError(
            f"{file}: array {name + '_indptr'!r} has shape {indptr.shape}, expected ({n_rows + 1},)"
        )
    if len(indptr) and (indptr[0] != 0 or np.any(np.diff(indptr) < 0)):
        raise ArtifactError(f"{file}: array {name + '_indptr'!r} is not a valid CSR row pointer")
    if indices.ndim != 1 or (len(indptr) and indptr[-1] != len(indices)):
        raise ArtifactError(
            f"{file}: array {name + '_indices'!r} has shape {indices.shape}, "
            f"expected ({int(indptr[-1]) if len(indptr) else 0},)"
        )
    if len(indices) and (indices.min() < 0 or indices.max() >= n_cols):
        raise ArtifactError(
            f"{file}: array {name + '_indices'!r} has entries outside 0..{n_cols - 1}"
        )


def _get(arrays: Mapping[str, np.ndarray], name: str, kind: str, file: str) -> np.ndarray:
    if name not in arrays:
        raise ArtifactError(
            f"{file}: array {name!r} is missing (written by another kind of model, or by an "
            "older tailor: refit it)"
        )
    arr = arrays[name]
    if arr.dtype.kind not in kind:
        wanted = " or ".join(_KIND_NAMES.get(k, k) for k in kind)
        raise ArtifactError(f"{file}: array {name!r} has dtype {arr.dtype}, expected {wanted}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ArtifactError(f"{file}: array {name!r} has non-finite values (NaN or infinity)")
    return arr


def _bind(dim: Dim, actual: int, dims: dict[str, int]) -> int | None:
    """The expected size of ``dim`` (binding a new name to ``actual``); None when it fits."""
    if isinstance(dim, int):
        return None if dim == actual else dim
    name, _, bound = dim.partition("<=")
    if name not in dims:
        dims[name] = min(actual, dims[bound]) if bound else actual
    return None if dims[name] == actual else dims[name]


def _check_shape(
    name: str,
    actual: tuple[int, ...],
    want: tuple[Dim, ...],
    dims: dict[str, int],
    file: str,
    verb: str = "has shape",
) -> None:
    wrong = len(actual) != len(want)
    resolved: list[int | str] = []
    for dim, size in zip(want, actual, strict=False):
        expected = _bind(dim, size, dims)
        wrong = wrong or expected is not None
        resolved.append(size if expected is None else expected)
    resolved += [d.partition("<=")[0] if isinstance(d, str) else d for d in want[len(actual) :]]
    if wrong:
        shown = "(" + ", ".join(map(str, resolved)) + ("," if len(resolved) == 1 else "") + ")"
        raise ArtifactError(f"{file}: array {name!r} {verb} {actual}, expected {shown}")


def _check_dense(
    arrays: Mapping[str, np.ndarray], name: str, entry: Dense, dims: dict[str, int], file: str
) -> None:
    arr = _get(arrays, name, entry.kind, file)
    _check_shape(name, arr.shape, entry.shape, dims, file)


def _check_sparse(
    arrays: Mapping[str, np.ndarray], name: str, entry: Sparse, dims: dict[str, int], file: str
) -> None:
    shape = _get(arrays, f"{name}_shape", "iu", file)
    _check_shape(f"{name}_shape", shape.shape, (2,), dims, file)
    n_rows, n_cols = (int(s) for s in shape)
    _check_shape(f"{name}_shape", (n_rows, n_cols), entry.shape, dims, file, verb="holds")
    indptr = _get(arrays, f"{name}_indptr", "iu", file)
    indices = _get(arrays, f"{name}_indices", "iu", file)
    data = _get(arrays, f"{name}_data", entry.kind, file)
    check_csr(indptr, indices, n_rows, n_cols, file, name)
    if data.shape != indices.shape:
        raise ArtifactError(
            f"{file}: array {name + '_data'!r} has shape {data.shape}, expected {indices.shape}"
        )


USERS_KEY = "_users"
ITEMS_KEY = "_items"
BASE_SPEC: ParamSpec = {USERS_KEY: Dense("U", ("users",)), ITEMS_KEY: Dense("U", ("items",))}
"""The arrays every artifact holds besides its model's: the id vocabularies (and ``_seen_*``)."""
SEEN_KEYS = ("_seen_indptr", "_seen_indices")


def check_artifact(
    arrays: Mapping[str, np.ndarray],
    spec: ParamSpec | None,
    n_users: int,
    n_items: int,
    file: str,
) -> None:
    """Check a whole ``params.npz`` (or ``state_arrays`` output): vocabularies, seen matrix and
    the model's own arrays (against ``spec``; None gets the finiteness check only)."""
    base = {k: arrays[k] for k in BASE_SPEC if k in arrays}
    check_params(base, BASE_SPEC, n_users, n_items, file)
    indptr = _get(arrays, SEEN_KEYS[0], "iu", file)
    indices = _get(arrays, SEEN_KEYS[1], "iu", file)
    check_csr(indptr, indices, n_users, n_items, file, "_seen")
    own = {k: v for k, v in arrays.items() if k not in BASE_SPEC and k not in SEEN_KEYS}
    if spec is not None:
        check_params(own, spec, n_users, n_items, file)
        return
    for key, arr in own.items():
        _get(own, key, arr.dtype.kind, file)  # floats must still be finite


def csr_params(prefix: str, mat: sp.csr_array) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays for params.npz (keys ``prefix_data`` ... ``prefix_shape``)."""
    return {
        f"{prefix}_data": mat.data,
        f"{prefix}_indices": mat.indices,
        f"{prefix}_indptr": mat.indptr,
        f"{prefix}_shape": np.asarray(mat.shape, np.int64),
    }


def csr_from_params(prefix: str, params: Mapping[str, np.ndarray]) -> sp.csr_array:
    """Inverse of :func:`csr_params`."""
    shape = tuple(int(s) for s in params[f"{prefix}_shape"])
    return sp.csr_array(
        (params[f"{prefix}_data"], params[f"{prefix}_indices"], params[f"{prefix}_indptr"]),
        shape=shape,
    )
