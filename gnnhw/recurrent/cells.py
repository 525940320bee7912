"""From-scratch recurrent cells, equal to ``torch.nn.RNNCell`` and ``torch.nn.LSTMCell``.

Built from :class:`torch.nn.Parameter` and tensor operations only. Each cell has *one* bias per gate
(the tables of :class:`RNNCell` and :class:`LSTMCell` map the assignment's symbols to the parameters);
torch keeps two (``bias_ih`` and ``bias_hh``) whose sum plays the same role, so :meth:`RNNCell.from_torch` /
:meth:`LSTMCell.from_torch` copy torch's weights and sum its biases.

Both cells split a step in two, so a sequence model can project the inputs of *all* time steps with
one matrix product and leave only the recurrent product inside the loop::

    xs = cell.project_input(x)          # (B, T, H) or (B, T, 4H): W x_t + b for every t at once
    for t in range(T):
        state = cell.step(xs[:, t], state)

``cell(x_t, state)`` does both for one step and returns the new state, like torch's cells.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from gnnhw.errors import ConfigError, ShapeError, check_positive_int

LSTMState = tuple[Tensor, Tensor]


class _Cell(nn.Module):
    """What the two cells share: parameters W_ih (G*H, D), W_hh (G*H, H), b (G*H,) for G gate blocks."""

    num_gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        gates = self.num_gates * hidden_size
        factory: dict[str, Any] = {"device": device, "dtype": dtype}  # built in place, never cast later
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size, **factory))
        self.bias = nn.Parameter(torch.empty(gates, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch's cells do."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def project_input(self, x: Tensor) -> Tensor:
        """W_ih x + b for any leading shape: (..., D) -> (..., G*H)."""
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"input has {x.shape[-1]} features in its last dimension, the cell expects {self.input_size}"
            )
        flat = torch.addmm(self.bias, x.reshape(-1, self.input_size), self.weight_ih.t())  # (N, G*H), one product
        return flat.view(*x.shape[:-1], flat.shape[-1])  # (..., G*H)

    @torch.no_grad()
    def _copy_from(self, torch_cell: nn.RNNCellBase) -> None:
        """Copy ``torch_cell``'s weights bit for bit (same dtype and device required: a cast would round them)."""
        if (torch_cell.input_size, torch_cell.hidden_size) != (self.input_size, self.hidden_size):
            raise ShapeError("torch cell and gnnhw cell have different sizes")
        source, target = torch_cell.weight_ih, self.weight_ih
        if (source.dtype, source.device) != (target.dtype, target.device):
            raise ConfigError(
                f"torch cell is {source.dtype} on {source.device}, this cell {target.dtype} on {target.device}; "
                "build the cell with the torch cell's dtype and device (from_torch does)"
            )
        self.weight_ih.copy_(torch_cell.weight_ih)
        self.weight_hh.copy_(torch_cell.weight_hh)
        self.bias.zero_()
        if torch_cell.bias:
            self.bias.copy_(torch_cell.bias_ih + torch_cell.bias_hh)

    def extra_repr(self) -> str:
        forget_bias = getattr(self, "forget_bias", 0.0)
        return f"{self.input_size}, {self.hidden_size}" + (f", forget_bias={forget_bias}" if forget_bias else "")


class RNNCell(_Cell):
    r"""A vanilla (Elman) RNN cell, the assignment's equation (Elman, "Finding structure in time", 1990,
    https://doi.org/10.1207/s15516709cog1402_1):

    .. math::
        h_t = \tanh(W_{hx} x_t + W_{hh} h_{t-1} + b_h)

    For input size D and hidden size H, the assignment's symbols are these parameters:

    ======  ======  ===============  ==============================================================
    symbol  shape   parameter        ``torch.nn.RNNCell(D, H, nonlinearity="tanh")``
    ======  ======  ===============  ==============================================================
    W_hx    (H, D)  ``weight_ih``    ``weight_ih``
    W_hh    (H, H)  ``weight_hh``    ``weight_hh``
    b_h     (H,)    ``bias``         ``bias_ih + bias_hh`` (torch keeps two biases; their sum is b_h)
    ======  ======  ===============  ==============================================================

    ``device`` and ``dtype`` place the parameters when they are created (torch's factory kwargs).

    Shapes:
        - input ``x_t``: (B, D) or (D,); ``h``: (B, H) or (H,), zeros when omitted
        - output: the new hidden state, shaped like ``h``

    Example (equal to torch's cell once its weights are copied):
        >>> import torch
        >>> from gnnhw.recurrent import RNNCell
        >>> _ = torch.manual_seed(0)
        >>> ref = torch.nn.RNNCell(3, 5, dtype=torch.float64)
        >>> cell = RNNCell.from_torch(ref)
        >>> x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)
        >>> cell(x, h).shape
        torch.Size([2, 5])
        >>> torch.allclose(cell(x, h), ref(x, h), rtol=0, atol=1e-12)
        True
    """

    num_gates = 1

    def step(self, projected: Tensor, h: Tensor | None = None) -> Tensor:
        """One step given ``projected = W_hx x_t + b_h`` (B, H) from :meth:`project_input`; h = None is h_0 = 0."""
        if h is None:
            return torch.tanh(projected)  # W_hh h_0 = 0 adds nothing
        return torch.tanh(torch.addmm(projected, h, self.weight_hh.t()))  # h_t = tanh(W_hx x_t + b_h + W_hh h_{t-1})

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            h = None if h is None else h.unsqueeze(0)
        h = self.step(self.project_input(x), h)
        return h.squeeze(0) if unbatched else h

    @classmethod
    def from_torch(cls, torch_cell: nn.RNNCell) -> RNNCell:
        """A cell with ``torch_cell``'s weights (tanh only); its two biases are summed into one.

        The cell has ``torch_cell``'s dtype and device, and its weights are bit-equal copies (no round trip
        through another dtype); the bias is ``bias_ih + bias_hh`` computed in that dtype.
        """
        if getattr(torch_cell, "nonlinearity", None) != "tanh":
            raise ConfigError("RNNCell.from_torch needs torch.nn.RNNCell(nonlinearity='tanh')")
        weight = torch_cell.weight_ih
        cell = cls(torch_cell.input_size, torch_cell.hidden_size, device=weight.device, dtype=weight.dtype)
        cell._copy_from(torch_cell)
        return cell


class LSTMCell(_Cell):
    r"""A long short-term memory cell, the assignment's equations:

    .. math::
        i_t &= \sigma(W_{ix} x_t + W_{ih} h_{t-1} + b_i) \\
        f_t &= \sigma(W_{fx} x_t + W_{fh} h_{t-1} + b_f) \\
        g_t &= \tanh(W_{gx} x_t + W_{gh} h_{t-1} + b_g) \\
        o_t &= \sigma(W_{ox} x_t + W_{oh} h_{t-1} + b_o) \\
        c_t &= g_t \odot i_t + c_{t-1} \odot f_t \\
        h_t &= \tanh(c_t) \odot o_t

    (Hochreiter & Schmidhuber 1997, https://doi.org/10.1162/neco.1997.9.8.1735, with the forget gate of
    Gers et al. 2000). The four gates are fused in torch's order i, f, g, o, so one matrix product computes them
    all: rows 0:H of each stacked parameter belong to gate i, H:2H to f, 2H:3H to g, 3H:4H to o. For input
    size D and hidden size H, the assignment's symbols are these parameters, 4(DH + H² + H) numbers in all:

    ======================  =======  ===============  ===========================================
    symbols                 shape    parameter        ``torch.nn.LSTMCell(D, H)`` (same rows)
    ======================  =======  ===============  ===========================================
    W_ix, W_fx, W_gx, W_ox  (4H, D)  ``weight_ih``    ``weight_ih``
    W_ih, W_fh, W_gh, W_oh  (4H, H)  ``weight_hh``    ``weight_hh``
    b_i, b_f, b_g, b_o      (4H,)    ``bias``         ``bias_ih + bias_hh`` (the sum of torch's two)
    ======================  =======  ===============  ===========================================

    Mind the names: the assignment's W_ih (gate i, applied to h_{t-1}) is the first block of torch's
    ``weight_hh``; torch's ``weight_ih`` holds the blocks applied to x_t.
    ``device`` and ``dtype`` place the parameters when they are created (torch's factory kwargs).

    ``forget_bias`` is added to b_f after the uniform initialisation (default 0: torch's initialisation).
    A value of 1 starts the forget gates at σ(1) ≈ 0.73 instead of σ(0) = 0.5, so the memory c and its
    gradient decay far more slowly over time at the start of training (Gers, Schmidhuber & Cummins 2000,
    https://doi.org/10.1162/089976600300015015; Jozefowicz, Zaremba & Sutskever 2015,
    https://proceedings.mlr.press/v37/jozefowicz15.html).

    Shapes:
        - input ``x_t``: (B, D) or (D,); ``state``: a pair (h, c), each (B, H) or (H,), zeros when omitted
        - output: the new pair (h, c)

    Example (equal to torch's cell once its weights are copied):
        >>> import torch
        >>> from gnnhw.recurrent import LSTMCell
        >>> _ = torch.manual_seed(0)
        >>> ref = torch.nn.LSTMCell(3, 5, dtype=torch.float64)
        >>> cell = LSTMCell.from_torch(ref)
        >>> x = torch.randn(2, 3, dtype=torch.float64)
        >>> h, c = cell(x)  # from h_0 = c_0 = 0
        >>> h_ref, c_ref = ref(x)
        >>> torch.allclose(h, h_ref, rtol=0, atol=1e-12), torch.allclose(c, c_ref, rtol=0, atol=1e-12)
        (True, True)
    """

    num_gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        forget_bias: float = 0.0,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        # (its reset_parameters() adds no forget bias yet)
        super().__init__(input_size, hidden_size, device=device, dtype=dtype)
        if not isinstance(forget_bias, int | float) or not math.isfinite(forget_bias):
            raise ConfigError(f"forget_bias must be a finite number, got {forget_bias!r}")
        self.forget_bias = float(forget_bias)
        self._add_forget_bias()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch's cells do, then b_f += forget_bias."""
        super().reset_parameters()
        self._add_forget_bias()

    @torch.no_grad()
    def _add_forget_bias(self) -> None:
        hidden = self.hidden_size
        self.bias[hidden : 2 * hidden] += getattr(self, "forget_bias", 0.0)  # b_f: the second block (i, f, g, o)

    def step(self, projected: Tensor, state: LSTMState | None = None) -> LSTMState:
        """One step given ``projected = W_x x_t + b`` (B, 4H) from :meth:`project_input`; None is h_0 = c_0 = 0."""
        if state is None:
            gates, c = projected, None  # W_h h_0 = 0 adds nothing
        else:
            h, c = state
            gates = torch.addmm(projected, h, self.weight_hh.t())  # (B, 4H): all four gates in one product
        i, f, g, o = gates.chunk(4, dim=-1)  # (B, H) each, torch's order
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = g * i if c is None else torch.addcmul(g * i, c, f)  # c_t = g ⊙ i + c_{t-1} ⊙ f
        h = torch.tanh(c) * o  # h_t = tanh(c_t) ⊙ o
        return h, c

    def forward(self, x: Tensor, state: LSTMState | None = None) -> LSTMState:
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
            state = None if state is None else (state[0].unsqueeze(0), state[1].unsqueeze(0))
        h, c = self.step(self.project_input(x), state)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    @classmethod
    def from_torch(cls, torch_cell: nn.LSTMCell) -> LSTMCell:
        """A cell with ``torch_cell``'s weights; its two biases are summed into one.

        The cell has ``torch_cell``'s dtype and device, and its weights are bit-equal copies (no round trip
        through another dtype); the bias is ``bias_ih + bias_hh`` computed in that dtype.
        """
        weight = torch_cell.weight_ih
        cell = cls(torch_cell.input_size, torch_cell.hidden_size, device=weight.device, dtype=weight.dtype)
        cell._copy_from(torch_cell)
        return cell
