"""The Wide & Deep network: tensors in, scores out (no ids, no DataFrames).

For a user u and an item i with categorical codes ``c_u`` (user fields) and ``c_i`` (item
fields, the price bucket among them) and TF-IDF row ``t_i``:

    deep(u, i) = MLP(ReLU(W_u [e_u; E c_u] + b + W_i [m_i e_i; E c_i; T' t_i]))
    wide(u, i) = m_i b_i + sum_f w_{c_if} + sum_{a, f} x_{a f}[c_ua, c_if]
    s(u, i) = deep(u, i) + e_u . m_i e_i + wide(u, i)

``e`` are id embeddings, ``E`` one table of every categorical value's embedding, ``T`` the text
projection, ``e_u . m_i e_i`` the id product (the collaborative signal, which the MLP alone
learns slowly: it sees user and item only through a sum before its first ReLU), ``b_i``/``w``
linear terms, ``x_af`` the exact cross table of user field a and item
field f, and ``m_i`` in {0, 1} hides the item id (training's id dropout; 0 for a new item). The
user number ``n_users`` is an anonymous history (its vector is given, its fields missing). The
first layer is split into a user half and an item half, so scoring one user against N items
costs one user row and N item rows before the shared ReLU.
"""

from __future__ import annotations

import torch
from torch import nn

EMBEDDING_STD = 0.05


class WideDeepNet(nn.Module):
    """Wide & Deep scorer over user/item numbers; codes and text live in its buffers."""

    item_text: torch.Tensor | None
    """Sparse (n_items, vocab) TF-IDF rows, used while training (the text projection learns)."""
    user_codes: torch.Tensor
    """(n_users + 1, user fields) codes into ``field_emb``; the last row is the anonymous user."""
    item_codes: torch.Tensor
    """(n_items, item fields) codes into ``field_emb``."""
    local_user: torch.Tensor
    """User codes within each field (0 = missing), for the cross tables."""
    local_item: torch.Tensor
    """Item codes within each field."""
    cross_base: torch.Tensor
    """(user fields, item fields) start of each cross table in ``cross``."""
    item_cards: torch.Tensor
    """Codes per item field (each cross table's row length)."""
    text_cache: torch.Tensor
    """(n_items, k) text vectors for scoring and export."""

    def __init__(
        self,
        user_codes: torch.Tensor,
        item_codes: torch.Tensor,
        field_cards: list[int],
        vocab: int,
        k: int,
        hidden: tuple[int, ...],
        dropout: float,
    ) -> None:
        super().__init__()
        n_users, n_user_fields = user_codes.shape
        n_items, n_item_fields = item_codes.shape
        user_cards, item_cards = field_cards[:n_user_fields], field_cards[n_user_fields:]
        offsets = torch.tensor([0, *field_cards[:-1]], dtype=torch.int64).cumsum(0)
        crosses = [(cu, ci) for cu in user_cards for ci in item_cards]
        sizes = torch.tensor([cu * ci for cu, ci in crosses], dtype=torch.int64)
        bases = sizes.cumsum(0) - sizes  # each cross table's start
        # one more user row, number n_users: an anonymous history (every field missing)
        local_user = torch.cat([user_codes, torch.zeros(1, n_user_fields, dtype=torch.int64)])
        self.register_buffer("user_codes", local_user + offsets[:n_user_fields])
        self.register_buffer("item_codes", item_codes + offsets[n_user_fields:])
        self.register_buffer("local_user", local_user)
        self.register_buffer("local_item", item_codes.clone())
        self.register_buffer("cross_base", bases.reshape(n_user_fields, n_item_fields))
        self.register_buffer("item_cards", torch.tensor(item_cards, dtype=torch.int64))
        self.register_buffer("text_cache", torch.zeros(n_items, k))
        self.item_text = None
        self.user_emb = nn.Embedding(n_users, k)
        self.item_emb = nn.Embedding(n_items, k)
        self.item_bias = nn.Embedding(n_items, 1)
        self.field_emb = nn.Embedding(sum(field_cards), k)
        self.field_bias = nn.Embedding(sum(field_cards), 1)
        self.cross = nn.Parameter(torch.zeros(sum(cu * ci for cu, ci in crosses)))
        self.text = nn.Parameter(torch.zeros(vocab, k))
        self.user_proj = nn.Linear(k * (1 + n_user_fields), hidden[0])
        self.item_proj = nn.Linear(k * (2 + n_item_fields), hidden[0], bias=False)
        layers: list[nn.Module] = []
        for width_in, width_out in zip(hidden, [*hidden[1:], 1], strict=True):
            # no bias on the output: the softmax loss cannot see a constant, so its gradient
            # would be rounding noise that Adam turns into full-size steps
            layers += [
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(width_in, width_out, bias=width_out != 1),
            ]
        self.head = nn.Sequential(*layers)
        for table in (self.user_emb, self.item_emb, self.field_emb):
            nn.init.normal_(table.weight, 0.0, EMBEDDING_STD)
        nn.init.normal_(self.text, 0.0, EMBEDDING_STD)
        nn.init.zeros_(self.item_bias.weight)
        nn.init.zeros_(self.field_bias.weight)

    def deep_parameters(self) -> list[nn.Parameter]:
        """The dense layers' parameters in a fixed order (saved as one flat vector)."""
        return [*self.user_proj.parameters(), *self.item_proj.parameters(), *self.head.parameters()]

    def text_vectors(self) -> torch.Tensor:
        """T' t_i of every item: from the sparse rows while training, else the cache."""
        if self.item_text is None:
            return self.text_cache
        vectors: torch.Tensor = torch.sparse.mm(self.item_text, self.text)
        return vectors

    def refresh_text_cache(self) -> None:
        """Store the current text vectors for scoring (and export) without the sparse rows."""
        if self.item_text is not None:
            with torch.no_grad():
                self.text_cache = torch.sparse.mm(self.item_text, self.text).detach()

    def user_inputs(
        self, users: torch.Tensor, user_vecs: torch.Tensor | None = None
    ) -> torch.Tensor:
        """[e_u; E c_u] for (B,) user numbers; ``user_vecs`` (B, k) replaces e_u (fold-in)."""
        ids = self.user_emb(users) if user_vecs is None else user_vecs
        fields = self.field_emb(self.user_codes[users]).flatten(-2)
        return torch.cat([ids, fields], -1)

    def item_inputs(
        self, items: torch.Tensor, text_vecs: torch.Tensor, keep: torch.Tensor | None
    ) -> torch.Tensor:
        """[m_i e_i; E c_i; T' t_i] for item numbers of any shape (..., M)."""
        ids = self.item_emb(items)
        if keep is not None:
            ids = ids * keep.unsqueeze(-1)
        fields = self.field_emb(self.item_codes[items]).flatten(-2)
        return torch.cat([ids, fields, text_vecs[items]], -1)

    def training_item_hidden(
        self, items: torch.Tensor, text_vecs: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """The item half of the first layer for (B, M) training items with id dropout ``keep``.

        The layer is linear, W_i [m e; x] = m (W_e e) + W_x x: both parts are computed once
        per catalogue item and gathered, cheaper than per (B x M) pair when B x M exceeds the
        catalogue (a batch of 1,024 positives with 16 negatives each does).
        """
        k = self.item_emb.embedding_dim
        weight = self.item_proj.weight
        every = torch.arange(self.item_emb.num_embeddings, device=items.device)
        content = self.item_inputs(every, text_vecs, None)[:, k:]
        from_ids = self.item_emb.weight @ weight[:, :k].T
        from_content = content @ weight[:, k:].T
        hidden: torch.Tensor = from_content[items] + keep.unsqueeze(-1) * from_ids[items]
        return hidden

    def wide(
        self, users: torch.Tensor, items: torch.Tensor, keep: torch.Tensor | None
    ) -> torch.Tensor:
        """wide(u, i) for (B,) users and (B or 1, M) items -> (B, M)."""
        bias: torch.Tensor = self.item_bias(items).squeeze(-1)
        if keep is not None:
            bias = bias * keep
        linear: torch.Tensor = self.field_bias(self.item_codes[items]).squeeze(-1).sum(-1)
        uc = self.local_user[users][:, None, :, None]  # (B, 1, Fu, 1)
        ic = self.local_item[items].unsqueeze(-2)  # (B|1, M, 1, Fi)
        index = self.cross_base + uc * self.item_cards + ic
        crosses: torch.Tensor = self.cross[index].sum((-1, -2))
        return bias + linear + crosses

    def logits(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        text_vecs: torch.Tensor,
        keep: torch.Tensor | None = None,
        user_vecs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """s(u, i) for (B,) users and (B or 1, M) items -> (B, M)."""
        user_ids = self.user_emb(users) if user_vecs is None else user_vecs
        hidden_u = self.user_proj(self.user_inputs(users, user_vecs)).unsqueeze(1)
        if keep is None:
            hidden_i = self.item_proj(self.item_inputs(items, text_vecs, None))
        else:
            hidden_i = self.training_item_hidden(items, text_vecs, keep)
        deep: torch.Tensor = self.head(hidden_u + hidden_i).squeeze(-1)
        item_ids = self.item_emb(items)
        if keep is not None:
            item_ids = item_ids * keep.unsqueeze(-1)
        # the id product e_u . m_i e_i: on ML-100K the MLP alone stayed near popularity for
        # epochs (docs/models.md "Wide & Deep")
        product: torch.Tensor = (item_ids * user_ids.unsqueeze(1)).sum(-1)
        return deep + product + self.wide(users, items, keep)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores (B, N) of (B,) users against (N,) candidate items (the exported graph)."""
        return self.logits(users, items.unsqueeze(0), self.text_cache)


class SampledSoftmax(nn.Module):
    """The training loss as a module (what DistributedDataParallel wraps): for each positive
    pair, cross-entropy of the positive among itself and its sampled negatives,
    -log(exp s_ui / sum_{j in {i} + N_u} exp s_uj)."""

    def __init__(self, net: WideDeepNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, users: torch.Tensor, items: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Mean loss over (B,) users whose (B, 1 + K) items hold the positive first."""
        logits = self.net.logits(users, items, self.net.text_vectors(), keep)
        target = torch.zeros(len(users), dtype=torch.int64, device=logits.device)
        return nn.functional.cross_entropy(logits, target)
