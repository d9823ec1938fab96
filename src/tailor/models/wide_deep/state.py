"""The learned state as named numpy arrays (``params.npz``) and the network built from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from tailor.errors import ArtifactError
from tailor.models._params import Dense, ParamSpec, Sparse

if TYPE_CHECKING:
    import torch

    from tailor.models.wide_deep.config import WideDeepConfig
    from tailor.models.wide_deep.network import WideDeepNet

PARAMS_SPEC: ParamSpec = {
    "user_emb": Dense("f", ("users", "k")),
    "item_emb": Dense("f", ("items", "k")),
    "item_bias": Dense("f", ("items",)),
    "field_emb": Dense("f", ("codes", "k")),
    "field_bias": Dense("f", ("codes",)),
    "cross_weights": Dense("f", ("crosses",)),
    "text_weight": Dense("f", ("vocab", "k")),
    "deep_weights": Dense("f", ("deep",)),
    "user_codes": Dense("i", ("users", "user_fields")),
    "item_codes": Dense("i", ("items", "item_fields")),
    "field_cards": Dense("i", ("fields",)),
    "code_names": Dense("U", ("codes",)),
    "price_edges": Dense("f", ("edges",)),
    "text_vocab": Dense("U", ("vocab",)),
    "text_idf": Dense("f", ("vocab",)),
    "item_text": Sparse("f", ("items", "vocab")),
}
"""Every learned array: embeddings, linear and cross terms, the dense layers as one flat vector,
and what encodes new users' and items' features (codes, their names, price edges, TF-IDF)."""


def build_net(arrays: dict[str, Any], config: WideDeepConfig, device: str = "cpu") -> WideDeepNet:
    """The network holding ``arrays`` (the model's learned state), on ``device``.

    Raises:
        ArtifactError: the dense layers' vector does not fit ``config.hidden``.
    """
    import torch

    from tailor.models.wide_deep.network import WideDeepNet

    net = WideDeepNet(
        torch.from_numpy(arrays["user_codes"].astype(np.int64)),
        torch.from_numpy(arrays["item_codes"].astype(np.int64)),
        [int(c) for c in arrays["field_cards"]],
        arrays["text_weight"].shape[0],
        config.embedding_size,
        config.hidden,
        config.dropout,
    )
    with torch.no_grad():
        net.text.copy_(_tensor(arrays["text_weight"]))
        net.item_emb.weight.copy_(_tensor(arrays["item_emb"]))
        net.user_emb.weight.copy_(_tensor(arrays["user_emb"]))
        net.field_emb.weight.copy_(_tensor(arrays["field_emb"]))
        net.item_bias.weight.copy_(_tensor(arrays["item_bias"])[:, None])
        net.field_bias.weight.copy_(_tensor(arrays["field_bias"])[:, None])
        net.cross.copy_(_tensor(arrays["cross_weights"]))
        deep = net.deep_parameters()
        expected = sum(p.numel() for p in deep)
        if arrays["deep_weights"].shape != (expected,):
            raise ArtifactError(
                f"deep_weights holds {arrays['deep_weights'].size} values; hidden="
                f"{config.hidden} with embedding_size={config.embedding_size} needs {expected}"
            )
        torch.nn.utils.vector_to_parameters(_tensor(arrays["deep_weights"]), deep)
        text: sp.csr_array = arrays["item_text"]
        net.text_cache = _tensor(np.asarray(text @ arrays["text_weight"], np.float32))
    return net.to(device)


def net_arrays(net: WideDeepNet) -> dict[str, np.ndarray]:
    """The network's parameters as float32 arrays (the inverse of ``build_net``'s copies)."""
    import torch

    def out(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().numpy(), np.float32)

    return {
        "user_emb": out(net.user_emb.weight),
        "item_emb": out(net.item_emb.weight),
        "item_bias": out(net.item_bias.weight[:, 0]),
        "field_emb": out(net.field_emb.weight),
        "field_bias": out(net.field_bias.weight[:, 0]),
        "cross_weights": out(net.cross),
        "text_weight": out(net.text),
        "deep_weights": out(torch.nn.utils.parameters_to_vector(net.deep_parameters())),
    }


def sparse_tensor(matrix: sp.csr_array, device: str) -> torch.Tensor:
    """A scipy CSR matrix as a torch sparse COO tensor (what ``torch.sparse.mm`` trains with)."""
    import torch

    coo = matrix.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return (
        torch.sparse_coo_tensor(index, values, coo.shape, check_invariants=True)
        .coalesce()
        .to(device)
    )


def _tensor(arr: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(np.ascontiguousarray(arr, np.float32))
