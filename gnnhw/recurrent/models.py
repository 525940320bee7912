"""Sequence models built on the recurrent cells."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.cells import LSTMCell


class TextGenerationModel(nn.Module):
    r"""A character-level language model: one-hot characters -> a stack of LSTMs -> logits over the vocabulary.

    The input of step t is the one-hot vector of character :math:`c_t` (no learned embedding: a one-hot
    vector times W_x just selects a column of W_x, which is what an embedding would learn anyway). Layer 1
    reads it, layer l > 1 reads the hidden state of layer l - 1 (with dropout between layers while
    training), and a linear head turns the top hidden state into the logits of :math:`c_{t+1}`:

    .. math::
        p(c_{t+1} \mid c_{\le t}) = \mathrm{softmax}(W_{ph} h^{(L)}_t + b_p)

    ``cell="torch"`` runs the stack as one ``torch.nn.LSTM`` (fast, fused kernels); ``cell="scratch"`` stacks
    gnnhw's own :class:`~gnnhw.recurrent.cells.LSTMCell`. The two compute the same function:
    :meth:`copy_weights_from` moves the weights of one into the other (summing torch's two biases).

    Args:
        vocab_size: number of distinct characters V.
        hidden_size: hidden units per layer H (default 128, the assignment's).
        num_layers: stacked LSTM layers L (default 2).
        dropout: dropout on the outputs of every layer but the last, while training (default 0).
        cell: ``"torch"`` or ``"scratch"``.

    Shapes:
        - input ``x``: (B, T) character indices (long)
        - ``state``: a pair (h, c), each (L, B, H); zeros when omitted
        - output: logits (B, T, V) and the final state (h, c), each (L, B, H)
    """

    def __init__(
        self, vocab_size: int, hidden_size: int = 128, num_layers: int = 2, dropout: float = 0.0, cell: str = "torch"
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        if cell not in ("torch", "scratch"):
            raise ConfigError(f"cell must be 'torch' or 'scratch', got {cell!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.cell = cell
        if cell == "torch":
            self.lstm = nn.LSTM(vocab_size, hidden_size, num_layers, batch_first=True, dropout=dropout)
        else:
            sizes = [vocab_size] + [hidden_size] * (num_layers - 1)
            self.cells = nn.ModuleList(LSTMCell(d, hidden_size) for d in sizes)
            self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)  # W_ph, b_p

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if x.dim() != 2:
            raise ShapeError(f"expected character indices of shape (B, T), got {tuple(x.shape)}")
        one_hot = F.one_hot(x, self.vocab_size).to(self.head.weight.dtype)  # (B, T, V)
        if self.cell == "torch":
            out, state = self.lstm(one_hot, state)  # (B, T, H); (h, c) each (L, B, H)
        else:
            out, state = self._scratch_forward(one_hot, state)
        return self.head(out), state  # (B, T, V)

    def _scratch_forward(
        self, inp: Tensor, state: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h_last, c_last = [], []
        for layer, cell in enumerate(self.cells):
            layer_state = None if state is None else (state[0][layer], state[1][layer])  # (B, H) each
            projected = cell.project_input(inp)  # (B, T, 4H): W_x x_t + b for every t at once
            outs = []
            for t in range(projected.shape[1]):
                layer_state = cell.step(projected[:, t], layer_state)
                outs.append(layer_state[0])
            inp = torch.stack(outs, dim=1)  # (B, T, H)
            if layer < self.num_layers - 1:
                inp = self.drop(inp)
            h_last.append(layer_state[0])
            c_last.append(layer_state[1])
        return inp, (torch.stack(h_last), torch.stack(c_last))  # (B, T, H); (L, B, H) each

    @torch.no_grad()
    def copy_weights_from(self, other: TextGenerationModel) -> TextGenerationModel:
        """Copy ``other``'s weights into this model, whichever cells each uses; return ``self``.

        torch's layer l has ``weight_ih_l{l}``, ``weight_hh_l{l}`` and two biases; a gnnhw cell has the same
        weights and one bias, their sum. Copying scratch -> torch puts the bias in ``bias_ih`` and zeros ``bias_hh``.
        """
        if (other.vocab_size, other.hidden_size, other.num_layers) != (
            self.vocab_size,
            self.hidden_size,
            self.num_layers,
        ):
            raise ShapeError("the two models have different vocab_size, hidden_size or num_layers")
        for layer in range(self.num_layers):
            w_ih, w_hh, bias = other._layer_weights(layer)
            if self.cell == "torch":
                getattr(self.lstm, f"weight_ih_l{layer}").copy_(w_ih)
                getattr(self.lstm, f"weight_hh_l{layer}").copy_(w_hh)
                getattr(self.lstm, f"bias_ih_l{layer}").copy_(bias)
                getattr(self.lstm, f"bias_hh_l{layer}").zero_()
            else:
                cell = self.cells[layer]
                cell.weight_ih.copy_(w_ih)
                cell.weight_hh.copy_(w_hh)
                cell.bias.copy_(bias)
        self.head.load_state_dict(other.head.state_dict())
        return self

    def _layer_weights(self, layer: int) -> tuple[Tensor, Tensor, Tensor]:
        """(W_ih (4H, D), W_hh (4H, H), b (4H,)) of one layer, torch's two biases summed."""
        if self.cell == "torch":
            lstm = self.lstm
            bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
            return getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}"), bias
        cell = self.cells[layer]
        return cell.weight_ih, cell.weight_hh, cell.bias

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, cell={self.cell!r}"
