"""Sequence models built on the from-scratch cells: palindrome classifiers and a character-level LM.

:class:`VanillaRNN` and :class:`LSTM` read a sequence and classify it from the last hidden state only,
the assignment's palindrome models (p = W_ph h_T + b_p; each class's docstring maps the assignment's
symbols to its parameters).

:class:`TorchRecurrentClassifier` is the same model on ``torch.nn.RNN`` / ``torch.nn.LSTM``
(``impl="reference"``); the tests show the two agree (outputs and gradients) once weights are copied with
:meth:`TorchRecurrentClassifier.from_scratch`, and the benchmark times one against the other.

:class:`TextGenerationModel` is the character-level language model of the text-generation part: a stack of
LSTMs, either ``torch.nn.LSTM`` or gnnhw's own :class:`~gnnhw.recurrent.cells.LSTMCell`, tested equal.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnnhw._renames import IMPLS, accept_renamed, impl_value, warn_renamed
from gnnhw.checks import check_index_tensor
from gnnhw.errors import ConfigError, ShapeError, check_positive_int
from gnnhw.recurrent.cells import LSTMCell, RNNCell
from gnnhw.recurrent.config import SIZE_RENAMES


def _check_input(x: Tensor, input_size: int) -> None:
    if x.dim() != 3 or x.shape[-1] != input_size or x.shape[1] < 1:
        raise ShapeError(f"expected input of shape (batch, T >= 1, {input_size}), got {tuple(x.shape)}")


class _RecurrentClassifier(nn.Module):
    """A cell unrolled over the sequence, then p = W_ph h_T + b_p.

    Shapes:
        - input: (B, T, input_size)
        - output: logits (B, num_classes)
    """

    def __init__(self, cell: RNNCell | LSTMCell, num_classes: int) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        self.input_size = cell.input_size
        self.hidden_size = cell.hidden_size
        self.num_classes = num_classes
        self.cell = cell
        factory: dict[str, Any] = {"device": cell.weight_ih.device, "dtype": cell.weight_ih.dtype}  # the cell's
        self.weight_ph = nn.Parameter(torch.empty(num_classes, cell.hidden_size, **factory))  # W_ph (C, H)
        self.bias_p = nn.Parameter(torch.empty(num_classes, **factory))  # b_p (C,)
        self.reset_output()

    @property
    def input_dim(self) -> int:
        """Deprecated name of :attr:`input_size`."""
        warn_renamed("input_dim", "input_size", type(self).__name__)
        return self.input_size

    @property
    def num_hidden(self) -> int:
        """Deprecated name of :attr:`hidden_size`."""
        warn_renamed("num_hidden", "hidden_size", type(self).__name__)
        return self.hidden_size

    def reset_output(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for W_ph and b_p, as ``torch.nn.Linear`` does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight_ph, -bound, bound)
        nn.init.uniform_(self.bias_p, -bound, bound)

    def _unroll(self, x: Tensor, keep: bool) -> tuple[Tensor, list[Tensor]]:
        raise NotImplementedError

    def _zeros_if_single_step(self, xs: tuple[Tensor, ...]) -> Tensor | None:
        """h_0 = 0 for a one-step sequence, else None (the cell then skips the product W_hh h_0 = 0).

        With T = 1 that product is the only use of W_hh; keeping it gives W_hh a zero gradient, as torch does.
        """
        return xs[0].new_zeros(xs[0].shape[0], self.hidden_size) if len(xs) == 1 else None

    def output(self, h: Tensor) -> Tensor:
        """p = W_ph h + b_p: (B, H) -> (B, C)."""
        return torch.addmm(self.bias_p, h, self.weight_ph.t())

    def forward(self, x: Tensor) -> Tensor:
        """The logits of the class of each sequence: (B, T, input_size) -> (B, num_classes).

        Raises :class:`~gnnhw.errors.ShapeError` for any other input shape.
        """
        _check_input(x, self.input_size)
        h_last, _ = self._unroll(x, keep=False)
        return self.output(h_last)

    def forward_with_states(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The logits and every hidden state h_1 ... h_T (each (B, H), part of the autograd graph).

        ``torch.autograd.grad(loss, states)`` then gives dL/dh_t for every t (gradients over time).
        """
        _check_input(x, self.input_size)
        h_last, states = self._unroll(x, keep=True)
        return self.output(h_last), states


@accept_renamed(SIZE_RENAMES)
class VanillaRNN(_RecurrentClassifier):
    r"""The assignment's vanilla (Elman) RNN classifier:

    .. math::
        h_t = \tanh(W_{hx} x_t + W_{hh} h_{t-1} + b_h), \qquad p = W_{ph} h_T + b_p

    with h_0 = 0 (Elman, "Finding structure in time", 1990, https://doi.org/10.1207/s15516709cog1402_1).
    ``cell`` is a from-scratch :class:`~gnnhw.recurrent.cells.RNNCell`. For input size D, hidden size H and
    C classes, the assignment's symbols are these parameters:

    ==========  =======  ====================  ============================================================
    symbol      shape    parameter             in :class:`TorchRecurrentClassifier` (``torch.nn.RNN``)
    ==========  =======  ====================  ============================================================
    W_hx        (H, D)   ``cell.weight_ih``    ``rnn.weight_ih_l0``
    W_hh        (H, H)   ``cell.weight_hh``    ``rnn.weight_hh_l0``
    b_h         (H,)     ``cell.bias``         ``rnn.bias_ih_l0 + rnn.bias_hh_l0`` (torch keeps two biases)
    W_ph        (C, H)   ``weight_ph``         ``head.weight``
    b_p         (C,)     ``bias_p``            ``head.bias``
    ==========  =======  ====================  ============================================================

    Args:
        input_size: features per time step D (10 for one-hot digits).
        hidden_size: hidden units H.
        num_classes: classes C (10 digits).
        device, dtype: where and in which dtype the parameters are created (torch's factory kwargs).

    The old keywords ``input_dim`` and ``num_hidden`` still work for one release (a DeprecationWarning).

    Shapes:
        - input: (B, T, input_size), T >= 1
        - output: logits (B, num_classes)

    Example:
        >>> import torch
        >>> from gnnhw.recurrent import VanillaRNN
        >>> _ = torch.manual_seed(0)
        >>> model = VanillaRNN(input_size=10, hidden_size=16, num_classes=10)
        >>> model(torch.zeros(4, 9, 10)).shape  # 4 sequences of 9 one-hot digits
        torch.Size([4, 10])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(RNNCell(input_size, hidden_size, device=device, dtype=dtype), num_classes)

    cell: RNNCell

    def _unroll(self, x: Tensor, keep: bool) -> tuple[Tensor, list[Tensor]]:
        xs = self.cell.project_input(x).unbind(1)  # T tensors (B, H): W_hx x_t + b_h for every t at once
        h = self._zeros_if_single_step(xs)  # h_0 = 0
        states = []
        for x_t in xs:
            h = self.cell.step(x_t, h)  # h_t = tanh(W_hx x_t + b_h + W_hh h_{t-1})
            if keep:
                states.append(h)
        assert h is not None  # T >= 1 steps (_check_input)
        return h, states


@accept_renamed(SIZE_RENAMES)
class LSTM(_RecurrentClassifier):
    r"""The assignment's LSTM classifier: the cell's equations
    (:class:`~gnnhw.recurrent.cells.LSTMCell`; Hochreiter & Schmidhuber 1997,
    https://doi.org/10.1162/neco.1997.9.8.1735), unrolled from h_0 = c_0 = 0, then

    .. math::
        p = W_{ph} h_T + b_p

    All four gates of a step come from one matrix product; the input projections of all time steps
    from one more, before the loop. ``forget_bias`` is added to the forget gates' bias at initialisation
    (see :class:`~gnnhw.recurrent.cells.LSTMCell`; 0 is torch's initialisation).

    The gates are stacked in torch's order i, f, g, o: rows 0:H of each stacked parameter belong to gate i,
    H:2H to f, 2H:3H to g, 3H:4H to o. For input size D, hidden size H and C classes:

    ========================  =======  ====================  ==================================================
    symbols                   shape    parameter             in :class:`TorchRecurrentClassifier` (``nn.LSTM``)
    ========================  =======  ====================  ==================================================
    W_ix, W_fx, W_gx, W_ox    (4H, D)  ``cell.weight_ih``    ``rnn.weight_ih_l0`` (same rows)
    W_ih, W_fh, W_gh, W_oh    (4H, H)  ``cell.weight_hh``    ``rnn.weight_hh_l0`` (same rows)
    b_i, b_f, b_g, b_o        (4H,)    ``cell.bias``         ``rnn.bias_ih_l0 + rnn.bias_hh_l0``
    W_ph                      (C, H)   ``weight_ph``         ``head.weight``
    b_p                       (C,)     ``bias_p``            ``head.bias``
    ========================  =======  ====================  ==================================================

    Mind the names: the assignment's W_ih (gate i, applied to h_{t-1}) is a block of torch's ``weight_hh``;
    torch's ``weight_ih`` holds the blocks applied to x_t (W_ix, W_fx, W_gx, W_ox).

    Args:
        input_size: features per time step D. hidden_size: hidden units H. num_classes: classes C.
        forget_bias: added to b_f after initialisation (default 0: torch's initialisation).
        device, dtype: where and in which dtype the parameters are created (torch's factory kwargs).

    The old keywords ``input_dim`` and ``num_hidden`` still work for one release (a DeprecationWarning).

    Shapes:
        - input: (B, T, input_size), T >= 1
        - output: logits (B, num_classes)

    Example:
        >>> import torch
        >>> from gnnhw.recurrent import LSTM
        >>> _ = torch.manual_seed(0)
        >>> model = LSTM(input_size=10, hidden_size=16, num_classes=10, forget_bias=1.0)
        >>> model(torch.zeros(4, 9, 10)).shape
        torch.Size([4, 10])
        >>> model.cell.weight_hh.shape  # [W_ih; W_fh; W_gh; W_oh], 4H x H
        torch.Size([64, 16])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        forget_bias: float = 0.0,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        cell = LSTMCell(input_size, hidden_size, forget_bias=forget_bias, device=device, dtype=dtype)
        super().__init__(cell, num_classes)

    cell: LSTMCell

    def _unroll(self, x: Tensor, keep: bool) -> tuple[Tensor, list[Tensor]]:
        xs = self.cell.project_input(x).unbind(1)  # T tensors (B, 4H): W_x x_t + b for every t at once
        zeros = self._zeros_if_single_step(xs)
        state = None if zeros is None else (zeros, zeros)  # h_0 = c_0 = 0
        states = []
        for x_t in xs:
            state = self.cell.step(x_t, state)  # (h_t, c_t): the four gates from one product
            if keep:
                states.append(state[0])
        assert state is not None  # T >= 1 steps (_check_input)
        return state[0], states


@accept_renamed(SIZE_RENAMES)
class TorchRecurrentClassifier(nn.Module):
    """The same classifiers on ``torch.nn.RNN(nonlinearity="tanh")`` / ``torch.nn.LSTM``: the reference
    (``impl="reference"``). ``rnn`` is the torch module, ``head`` the ``nn.Linear`` of W_ph and b_p; the tables
    of :class:`VanillaRNN` and :class:`LSTM` say which torch parameter holds which of the assignment's symbols.

    Shapes:
        - input: (B, T, input_size)
        - output: logits (B, num_classes)
    """

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_classes: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if kind not in ("rnn", "lstm"):
            raise ConfigError(f"unknown model {kind!r}; expected 'rnn' or 'lstm'")
        self.kind = kind
        rnn_class = nn.LSTM if kind == "lstm" else nn.RNN
        self.rnn = rnn_class(input_size, hidden_size, batch_first=True, device=device, dtype=dtype)
        self.head = nn.Linear(hidden_size, num_classes, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, C)

    @classmethod
    def from_scratch(cls, model: VanillaRNN | LSTM) -> TorchRecurrentClassifier:
        """A torch model with ``model``'s weights (the one bias goes to ``bias_ih``, ``bias_hh`` is zero).

        It has ``model``'s dtype and device, and every weight is a bit-equal copy (no round trip through another
        dtype).
        """
        kind = "lstm" if isinstance(model, LSTM) else "rnn"
        weight = model.weight_ph
        ref = cls(
            kind, model.input_size, model.hidden_size, model.num_classes, device=weight.device, dtype=weight.dtype
        )
        torch_params = dict(ref.rnn.named_parameters())
        with torch.no_grad():
            torch_params["weight_ih_l0"].copy_(model.cell.weight_ih)
            torch_params["weight_hh_l0"].copy_(model.cell.weight_hh)
            torch_params["bias_ih_l0"].copy_(model.cell.bias)
            torch_params["bias_hh_l0"].zero_()
            ref.head.weight.copy_(model.weight_ph)
            ref.head.bias.copy_(model.bias_p)
        return ref


MODELS: dict[str, type[_RecurrentClassifier]] = {"rnn": VanillaRNN, "lstm": LSTM}


def build_model(
    name: str, input_size: int, hidden_size: int, num_classes: int, forget_bias: float = 0.0
) -> VanillaRNN | LSTM:
    """``"rnn"`` -> :class:`VanillaRNN`, ``"lstm"`` -> :class:`LSTM` (with ``forget_bias``); else a ConfigError."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; expected one of {', '.join(sorted(MODELS))}")
    if name == "lstm":
        return LSTM(input_size, hidden_size, num_classes, forget_bias=forget_bias)
    return VanillaRNN(input_size, hidden_size, num_classes)


@accept_renamed({"cell": "impl"}, impl_key="cell")
class TextGenerationModel(nn.Module):
    r"""A character-level language model: one-hot characters -> a stack of LSTMs -> logits over the vocabulary.

    The input of step t is the one-hot vector of character :math:`c_t` (no learned embedding: a one-hot
    vector times W_x just selects a column of W_x, which is what an embedding would learn anyway). Layer 1
    reads it, layer l > 1 reads the hidden state of layer l - 1 (with dropout between layers while
    training), and a linear head turns the top hidden state into the logits of :math:`c_{t+1}`:

    .. math::
        p(c_{t+1} \mid c_{\le t}) = \mathrm{softmax}(W_{ph} h^{(L)}_t + b_p)

    ``impl="reference"`` runs the stack as one ``torch.nn.LSTM`` (fast, fused kernels); ``impl="scratch"`` stacks
    gnnhw's own :class:`~gnnhw.recurrent.cells.LSTMCell`. The two compute the same function:
    :meth:`copy_weights_from` moves the weights of one into the other (summing torch's two biases).
    Layer l (0-based; gates in torch's order i, f, g, o, see :class:`LSTM` for the single-layer table):

    ======================  =========  ========================  ===========================================
    symbols (layer l)       shape      ``impl="scratch"``        ``impl="reference"``
    ======================  =========  ========================  ===========================================
    W_ix, W_fx, W_gx, W_ox  (4H, D_l)  ``cells[l].weight_ih``    ``lstm.weight_ih_l{l}`` (same rows)
    W_ih, W_fh, W_gh, W_oh  (4H, H)    ``cells[l].weight_hh``    ``lstm.weight_hh_l{l}`` (same rows)
    b_i, b_f, b_g, b_o      (4H,)      ``cells[l].bias``         ``lstm.bias_ih_l{l} + lstm.bias_hh_l{l}``
    W_ph                    (V, H)     ``head.weight``           ``head.weight``
    b_p                     (V,)       ``head.bias``             ``head.bias``
    ======================  =========  ========================  ===========================================

    with D_0 = V and D_l = H above.

    The assignment's symbols and the parameters that hold them (layer l = 0 .. L-1; each stack of four blocks
    in torch's gate order i, f, g, o; D = V for layer 0, H above). Beware: the assignment's W_ih is the input
    gate's weight on h_{t-1}, a block of torch's ``weight_hh``, not torch's ``weight_ih``.

    ==================================  ===========================================  ========================
    assignment                          ``impl="reference"``                         ``impl="scratch"``
    ==================================  ===========================================  ========================
    [W_ix; W_fx; W_gx; W_ox] (4H, D)    ``lstm.weight_ih_l{l}``                      ``cells[l].weight_ih``
    [W_ih; W_fh; W_gh; W_oh] (4H, H)    ``lstm.weight_hh_l{l}``                      ``cells[l].weight_hh``
    [b_i; b_f; b_g; b_o] (4H,)          ``lstm.bias_ih_l{l} + lstm.bias_hh_l{l}``    ``cells[l].bias``
    W_ph (V, H), b_p (V,)               ``head.weight``, ``head.bias``               the same
    ==================================  ===========================================  ========================

    Args:
        vocab_size: number of distinct characters V (the input size of the first layer and the output size).
        hidden_size: hidden units per layer H (default 128, the assignment's).
        num_layers: stacked LSTM layers L (default 2).
        dropout: dropout on the outputs of every layer but the last, while training (default 0).
        impl: ``"reference"`` (torch.nn.LSTM) or ``"scratch"`` (gnnhw's cells). The old ``cell="torch"`` /
            ``cell="scratch"`` still work for one release, with a :class:`DeprecationWarning`.
        device, dtype: where and in which dtype the parameters are created (torch's factory kwargs).

    Raises:
        ConfigError: a size below 1, dropout outside [0, 1), or an unknown ``impl``.

    Shapes:
        - input ``x``: (B, T) character indices (long)
        - ``state``: a pair (h, c), each (L, B, H); zeros when omitted
        - output: logits (B, T, V) and the final state (h, c), each (L, B, H)
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.0,
        impl: str = "reference",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        impl = impl_value(impl, "TextGenerationModel")  # positional "torch" from before the rename
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            check_positive_int(name, value)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        if impl not in IMPLS:
            raise ConfigError(f"impl must be one of {', '.join(map(repr, IMPLS))}, got {impl!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.impl = impl
        if impl == "reference":
            self.lstm = nn.LSTM(
                vocab_size, hidden_size, num_layers, batch_first=True, dropout=dropout, device=device, dtype=dtype
            )
        else:
            sizes = [vocab_size] + [hidden_size] * (num_layers - 1)
            self.cells = nn.ModuleList(LSTMCell(d, hidden_size, device=device, dtype=dtype) for d in sizes)
            self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size, device=device, dtype=dtype)  # W_ph, b_p

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if x.dim() != 2:
            raise ShapeError(f"expected character indices of shape (B, T), got {tuple(x.shape)}")
        check_index_tensor("character ids x", x, self.vocab_size, self.head.weight.device)
        one_hot = F.one_hot(x, self.vocab_size).to(self.head.weight.dtype)  # (B, T, V)
        if self.impl == "reference":
            out, state = self.lstm(one_hot, state)  # (B, T, H); (h, c) each (L, B, H)
        else:
            out, state = self._scratch_forward(one_hot, state)
        return self.head(out), state  # (B, T, V)

    def _scratch_forward(
        self, inp: Tensor, state: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h_last, c_last = [], []
        for layer in range(self.num_layers):
            cell = self._cell(layer)
            layer_state = None if state is None else (state[0][layer], state[1][layer])  # (B, H) each
            projected = cell.project_input(inp)  # (B, T, 4H): W_x x_t + b for every t at once
            outs = []
            for t in range(projected.shape[1]):
                layer_state = cell.step(projected[:, t], layer_state)
                outs.append(layer_state[0])
            assert layer_state is not None  # T >= 1 steps (forward checks x)
            inp = torch.stack(outs, dim=1)  # (B, T, H)
            if layer < self.num_layers - 1:
                inp = self.drop(inp)
            assert layer_state is not None  # None only for T = 0 without a given state: no final state exists
            h_last.append(layer_state[0])
            c_last.append(layer_state[1])
        return inp, (torch.stack(h_last), torch.stack(c_last))  # (B, T, H); (L, B, H) each

    @torch.no_grad()
    def copy_weights_from(self, other: TextGenerationModel) -> TextGenerationModel:
        """Copy ``other``'s weights into this model, whichever ``impl`` each uses; return ``self``.

        torch's layer l has ``weight_ih_l{l}``, ``weight_hh_l{l}`` and two biases; a gnnhw cell has the same
        weights and one bias, their sum. Copying scratch -> torch puts the bias in ``bias_ih`` and zeros ``bias_hh``.
        The weights are copied bit for bit, so both models must have the same dtype and device (a cast would
        round them): :class:`ConfigError` otherwise.
        """
        if (other.vocab_size, other.hidden_size, other.num_layers) != (
            self.vocab_size,
            self.hidden_size,
            self.num_layers,
        ):
            raise ShapeError("the two models have different vocab_size, hidden_size or num_layers")
        mine, theirs = self.head.weight, other.head.weight
        if (mine.dtype, mine.device) != (theirs.dtype, theirs.device):
            raise ConfigError(
                f"cannot copy weights of a {theirs.dtype} model on {theirs.device} into a {mine.dtype} model on "
                f"{mine.device} bit for bit; build this model with dtype={theirs.dtype} and device={theirs.device}"
            )
        for layer in range(self.num_layers):
            w_ih, w_hh, bias = other._layer_weights(layer)
            if self.impl == "reference":
                getattr(self.lstm, f"weight_ih_l{layer}").copy_(w_ih)
                getattr(self.lstm, f"weight_hh_l{layer}").copy_(w_hh)
                getattr(self.lstm, f"bias_ih_l{layer}").copy_(bias)
                getattr(self.lstm, f"bias_hh_l{layer}").zero_()
            else:
                cell = self._cell(layer)
                cell.weight_ih.copy_(w_ih)
                cell.weight_hh.copy_(w_hh)
                cell.bias.copy_(bias)
        self.head.load_state_dict(other.head.state_dict())
        return self

    def _layer_weights(self, layer: int) -> tuple[Tensor, Tensor, Tensor]:
        """(W_ih (4H, D), W_hh (4H, H), b (4H,)) of one layer, torch's two biases summed."""
        if self.impl == "reference":
            lstm = self.lstm
            bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
            return getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}"), bias
        cell = self._cell(layer)
        return cell.weight_ih, cell.weight_hh, cell.bias

    def _cell(self, layer: int) -> LSTMCell:
        """The scratch stack's cell of ``layer`` (typed: ``nn.ModuleList`` items are plain Modules)."""
        cell = self.cells[layer]
        assert isinstance(cell, LSTMCell)
        return cell

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, impl={self.impl!r}"
