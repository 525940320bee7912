"""Sequence classifiers built on the from-scratch cells.

:class:`VanillaRNN` and :class:`LSTM` read a sequence and classify it from the last hidden state only,
the assignment's palindrome models:

.. math::
    p = W_{ph} h_T + b_p

:class:`TorchRecurrentClassifier` is the same model on ``torch.nn.RNN`` / ``torch.nn.LSTM``; the tests
show the two agree (outputs and gradients) once weights are copied with
:meth:`TorchRecurrentClassifier.from_scratch`, and the benchmark times one against the other.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.cells import LSTMCell, RNNCell


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check_input(x: Tensor, input_dim: int) -> None:
    if x.dim() != 3 or x.shape[-1] != input_dim or x.shape[1] < 1:
        raise ShapeError(f"expected input of shape (batch, T >= 1, {input_dim}), got {tuple(x.shape)}")


def _project(cell: RNNCell | LSTMCell, x: Tensor) -> Tensor:
    """W x_t + b for every t with one fused product: (B, T, D) -> (B, T, G*H)."""
    batch, steps, _ = x.shape
    flat = torch.addmm(cell.bias, x.reshape(batch * steps, -1), cell.weight_ih.t())  # (B*T, G*H)
    return flat.view(batch, steps, -1)  # (B, T, G*H)


class _RecurrentClassifier(nn.Module):
    """A cell unrolled over the sequence, then p = W_ph h_T + b_p.

    Shapes:
        - input: (B, T, input_dim)
        - output: logits (B, num_classes)
    """

    def __init__(self, cell: RNNCell | LSTMCell, num_classes: int) -> None:
        super().__init__()
        _check_positive("num_classes", num_classes)
        self.input_dim = cell.input_size
        self.num_hidden = cell.hidden_size
        self.num_classes = num_classes
        self.cell = cell
        self.weight_ph = nn.Parameter(torch.empty(num_classes, cell.hidden_size))  # W_ph (C, H)
        self.bias_p = nn.Parameter(torch.empty(num_classes))  # b_p (C,)
        self.reset_output()

    def reset_output(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for W_ph and b_p, as ``torch.nn.Linear`` does."""
        bound = 1.0 / math.sqrt(self.num_hidden)
        nn.init.uniform_(self.weight_ph, -bound, bound)
        nn.init.uniform_(self.bias_p, -bound, bound)

    def _unroll(self, x: Tensor, keep: bool) -> tuple[Tensor, list[Tensor]]:
        raise NotImplementedError

    def output(self, h: Tensor) -> Tensor:
        """p = W_ph h + b_p: (B, H) -> (B, C)."""
        return torch.addmm(self.bias_p, h, self.weight_ph.t())

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.input_dim)
        h_last, _ = self._unroll(x, keep=False)
        return self.output(h_last)

    def forward_with_states(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The logits and every hidden state h_1 ... h_T (each (B, H), part of the autograd graph).

        ``torch.autograd.grad(loss, states)`` then gives dL/dh_t for every t (gradients over time).
        """
        _check_input(x, self.input_dim)
        h_last, states = self._unroll(x, keep=True)
        return self.output(h_last), states


class VanillaRNN(_RecurrentClassifier):
    r"""The assignment's vanilla RNN classifier:

    .. math::
        h_t = \tanh(W_{hx} x_t + W_{hh} h_{t-1} + b_h), \qquad p = W_{ph} h_T + b_p

    with h_0 = 0. ``cell`` is a from-scratch :class:`~gnnhw.recurrent.cells.RNNCell`.

    Shapes:
        - input: (B, T, input_dim)
        - output: logits (B, num_classes)
    """

    def __init__(self, input_dim: int, num_hidden: int, num_classes: int) -> None:
        super().__init__(RNNCell(input_dim, num_hidden), num_classes)

    def _unroll(self, x: Tensor, keep: bool) -> tuple[Tensor, list[Tensor]]:
        cell = self.cell
        xs = _project(cell, x).unbind(1)  # T tensors (B, H): W_hx x_t + b_h for every t at once
        w_hh_t = cell.weight_hh.t()  # (H, H)
        h = None
        states = []
        for t, x_t in enumerate(xs):
            if t == 0 and len(xs) > 1:
                h = torch.tanh(x_t)  # h_1 = tanh(W_hx x_1 + b_h): h_0 = 0 adds nothing
            else:
                h_prev = x_t.new_zeros(x_t.shape) if h is None else h  # (B, H)
                h = torch.tanh(torch.addmm(x_t, h_prev, w_hh_t))  # h_t = tanh(W_hx x_t + b_h + W_hh h_{t-1})
            if keep:
                states.append(h)
        return h, states


class LSTM(_RecurrentClassifier):
    r"""The assignment's LSTM classifier: the cell's equations
    (:class:`~gnnhw.recurrent.cells.LSTMCell`), unrolled from h_0 = c_0 = 0, then

    .. math::
        p = W_{ph} h_T + b_p

    All four gates of a step come from one matrix product; the input projections of all time steps
    from one more, before the loop.

    Shapes:
        - input: (B, T, input_dim)
        - output: logits (B, num_classes)
    """

    def __init__(self, input_dim: int, num_hidden: int, num_classes: int) -> None:
        super().__init__(LSTMCell(input_dim, num_hidden), num_classes)

    def _unroll(self, x: Tensor, keep: bool) -> tuple[Tensor, list[Tensor]]:
        cell = self.cell
        xs = _project(cell, x).unbind(1)  # T tensors (B, 4H): W_x x_t + b for every t at once
        w_hh_t = cell.weight_hh.t()  # (H, 4H)
        states = []
        h = c = None
        for t, x_t in enumerate(xs):
            if t == 0 and len(xs) > 1:
                gates = x_t  # (B, 4H); h_0 = 0 adds nothing
            else:
                h_prev = x_t.new_zeros(x_t.shape[0], cell.hidden_size) if h is None else h  # (B, H)
                gates = torch.addmm(x_t, h_prev, w_hh_t)  # (B, 4H): all four gates in one product
            i, f, g, o = gates.chunk(4, dim=1)  # (B, H) each, torch's order i, f, g, o
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = g * i if c is None else torch.addcmul(g * i, c, f)  # c_t = g ⊙ i + c_{t-1} ⊙ f, c_0 = 0
            h = torch.tanh(c) * o  # h_t = tanh(c_t) ⊙ o
            if keep:
                states.append(h)
        return h, states


class TorchRecurrentClassifier(nn.Module):
    """The same classifiers on ``torch.nn.RNN(nonlinearity="tanh")`` / ``torch.nn.LSTM``: the reference.

    Shapes:
        - input: (B, T, input_dim)
        - output: logits (B, num_classes)
    """

    def __init__(self, kind: str, input_dim: int, num_hidden: int, num_classes: int) -> None:
        super().__init__()
        if kind not in ("rnn", "lstm"):
            raise ConfigError(f"unknown model {kind!r}; expected 'rnn' or 'lstm'")
        self.kind = kind
        rnn_class = nn.LSTM if kind == "lstm" else nn.RNN
        self.rnn = rnn_class(input_dim, num_hidden, batch_first=True)
        self.head = nn.Linear(num_hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, C)

    @classmethod
    def from_scratch(cls, model: VanillaRNN | LSTM) -> TorchRecurrentClassifier:
        """A torch model with ``model``'s weights (the one bias goes to ``bias_ih``, ``bias_hh`` is zero)."""
        kind = "lstm" if isinstance(model, LSTM) else "rnn"
        ref = cls(kind, model.input_dim, model.num_hidden, model.num_classes)
        with torch.no_grad():
            ref.rnn.weight_ih_l0.copy_(model.cell.weight_ih)
            ref.rnn.weight_hh_l0.copy_(model.cell.weight_hh)
            ref.rnn.bias_ih_l0.copy_(model.cell.bias)
            ref.rnn.bias_hh_l0.zero_()
            ref.head.weight.copy_(model.weight_ph)
            ref.head.bias.copy_(model.bias_p)
        return ref.to(model.weight_ph.device)


MODELS: dict[str, type[_RecurrentClassifier]] = {"rnn": VanillaRNN, "lstm": LSTM}


def build_model(name: str, input_dim: int, num_hidden: int, num_classes: int) -> VanillaRNN | LSTM:
    """``"rnn"`` -> :class:`VanillaRNN`, ``"lstm"`` -> :class:`LSTM`; anything else is a ConfigError."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; expected one of {', '.join(sorted(MODELS))}")
    return MODELS[name](input_dim, num_hidden, num_classes)
