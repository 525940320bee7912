r"""Back-propagation through time by hand (assignment Q1.1), checked against autograd.

The vanilla RNN classifier of :class:`~gnnhw.recurrent.models.VanillaRNN` reads x_1 ... x_T (h_0 = 0) and
classifies from the last step only:

.. math::
    a_t = W_{hx} x_t + W_{hh} h_{t-1} + b_h, \quad h_t = \tanh(a_t), \quad p = W_{ph} h_T + b_p, \\
    \hat y = \mathrm{softmax}(p), \quad L = -\tfrac1B \textstyle\sum_b y_b^\top \log \hat y_b

with y one-hot and the loss averaged over the batch of B sequences (``F.cross_entropy``'s default, the one
gnnhw trains with). The chain rule, step by step (per sequence; the batch adds a sum over b and a 1/B):

.. math::
    \frac{\partial L}{\partial p} &= \hat y - y
        \quad\text{(softmax + cross-entropy: } -\textstyle\sum_k y_k(\delta_{kl} - \hat y_l) = \hat y_l - y_l) \\
    \frac{\partial L}{\partial W_{ph}} &= (\hat y - y)\, h_T^\top, \qquad
    \frac{\partial L}{\partial b_p} = \hat y - y \\
    \frac{\partial L}{\partial h_T} &= W_{ph}^\top (\hat y - y), \qquad
    \frac{\partial L}{\partial h_{t-1}} = W_{hh}^\top \delta_t \\
    \delta_t &= \frac{\partial L}{\partial a_t} = (1 - h_t \odot h_t) \odot \frac{\partial L}{\partial h_t} \\
    \frac{\partial L}{\partial W_{hh}} &= \sum_{t=1}^{T} \delta_t\, h_{t-1}^\top, \qquad
    \frac{\partial L}{\partial W_{hx}} = \sum_{t=1}^{T} \delta_t\, x_t^\top, \qquad
    \frac{\partial L}{\partial b_h} = \sum_{t=1}^{T} \delta_t

W_hh is shared by every step, so its gradient is a *sum over time*. Since
:math:`\delta_t = D_t W_{hh}^\top \delta_{t+1}` for t < T with :math:`D_t = \mathrm{diag}(1 - h_t^2)`,

.. math::
    \delta_t = D_t W_{hh}^\top D_{t+1} W_{hh}^\top \cdots D_{T-1} W_{hh}^\top \delta_T,

a product of T - t Jacobians that shrinks (vanishes) or grows (explodes) geometrically with the distance T - t
(Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks", ICML 2013,
https://proceedings.mlr.press/v28/pascanu13.html, section 2). :attr:`BPTTResult.contributions` holds
:math:`\|\delta_t h_{t-1}^\top\|_F` per step to show it.

:func:`rnn_gradients` computes all of this with explicit loops over time (no autograd);
:func:`rnn_mistakes` gives three wrong answers commonly written for Q1.1, each a named variant, so a test can
show that each differs from autograd. :func:`lstm_gradients` does the same by hand for the
:class:`~gnnhw.recurrent.models.LSTM`, including dL/dc_t along the memory path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.models import LSTM, VanillaRNN

MISTAKES: dict[str, str] = {
    "sign_flipped": "dL/dW_ph = -(ŷ - y) h_T^T: the sign of the output error flipped",
    "diagonal_softmax": "dL/dW_ph = -y ⊙ (1 - ŷ) h_T^T: only the k = l term of the softmax Jacobian, no sum over k",
    "last_step_only": "dL/dW_hh = δ_T h_(T-1)^T: the sum over time left out (only the last step's term)",
}
"""The usual mistakes of Q1.1 answers: variant name -> the wrong formula."""


@dataclass
class BPTTResult:
    """Hand-derived gradients of one batch, and how they are made up over time.

    ``gradients`` is keyed by the model's own parameter names (``model.named_parameters()``, e.g.
    ``"cell.weight_hh"``), each tensor shaped like its parameter. ``contributions[t-1]`` is the Frobenius
    norm of step t's term of dL/dW_hh (:math:`\\|\\delta_t h_{t-1}^\\top\\|_F`, summed over the batch;
    0 at t = 1 because h_0 = 0), ``delta_norms[t-1]`` is :math:`\\|\\delta_t\\|_F` over the batch,
    ``state_grad_norms[t-1]`` is :math:`\\|\\partial L/\\partial h_t\\|_F` and, for the LSTM only,
    ``cell_grad_norms[t-1]`` is :math:`\\|\\partial L/\\partial c_t\\|_F`. ``loss`` is the batch's mean
    cross-entropy. ``state_grads`` / ``cell_grads`` keep dL/dh_t and dL/dc_t themselves, (B, H) each.
    """

    model: str  # "rnn" or "lstm"
    loss: float
    gradients: dict[str, Tensor]
    contributions: list[float]
    delta_norms: list[float]
    state_grad_norms: list[float]
    state_grads: list[Tensor] = field(default_factory=list, repr=False)
    cell_grad_norms: list[float] = field(default_factory=list)
    cell_grads: list[Tensor] = field(default_factory=list, repr=False)


def parameter_names(model: VanillaRNN | LSTM) -> dict[str, str]:
    """Role -> the model's own parameter name: ``weight_ih`` (W_hx), ``weight_hh``, ``bias`` (b_h), ``weight_ph``,
    ``bias_p``, found by identity in ``model.named_parameters()``."""
    by_id = {id(p): name for name, p in model.named_parameters()}
    roles = {
        "weight_ih": model.cell.weight_ih,
        "weight_hh": model.cell.weight_hh,
        "bias": model.cell.bias,
        "weight_ph": model.weight_ph,
        "bias_p": model.bias_p,
    }
    return {role: by_id[id(p)] for role, p in roles.items()}


def _check(model: object, kind: type[VanillaRNN | LSTM], x: Tensor, y: Tensor) -> None:
    if not isinstance(model, kind):
        raise ConfigError(f"expected a gnnhw {kind.__name__}, got {type(model).__name__}")
    input_size = model.cell.input_size
    if x.dim() != 3 or x.shape[1] < 1 or x.shape[2] != input_size or x.shape[0] < 1:
        raise ShapeError(f"x must have shape (B >= 1, T >= 1, {input_size}), got {tuple(x.shape)}")
    if y.shape != (x.shape[0],) or y.dtype != torch.long:
        raise ShapeError(f"y must be class indices of shape ({x.shape[0]},) and dtype long, got {tuple(y.shape)}")
    num_classes = model.weight_ph.shape[0]
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ShapeError(f"y must hold class indices in 0..{num_classes - 1}")


@torch.no_grad()
def _output_error(model: VanillaRNN | LSTM, h_last: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(ŷ, one-hot y, loss) for the last hidden state h_T (B, H)."""
    logits = h_last @ model.weight_ph.t() + model.bias_p  # p = W_ph h_T + b_p, (B, C)
    y_hat = torch.softmax(logits, dim=-1)  # (B, C)
    one_hot = torch.zeros_like(y_hat).scatter_(1, y.unsqueeze(1), 1.0)  # (B, C)
    loss = -(torch.log_softmax(logits, dim=-1) * one_hot).sum(-1).mean()
    return y_hat, one_hot, loss


@torch.no_grad()
def _rnn_forward(model: VanillaRNN, x: Tensor) -> list[Tensor]:
    """h_0 = 0, h_1, ..., h_T, each (B, H)."""
    cell = model.cell
    hs = [x.new_zeros(x.shape[0], cell.hidden_size)]  # h_0 = 0
    for t in range(x.shape[1]):
        # a_t = W_hx x_t + W_hh h_{t-1} + b_h
        a_t = x[:, t] @ cell.weight_ih.t() + hs[-1] @ cell.weight_hh.t() + cell.bias
        hs.append(torch.tanh(a_t))  # h_t = tanh(a_t)
    return hs


class _SumsOverTime:
    """What the RNN's and the LSTM's backward loops share: the sums over time of the recurrent layer's gradients.

    ``add(t, z, h_prev, x_t)`` takes the pre-activation gradient of step t (δ_t for the RNN, z̄_t for the
    LSTM), adds its terms to dL/dW_hh, dL/dW_ih and dL/db, keeps the norms of step t, and returns
    dL/dh_{t-1} = W_hh^T z (through this path).
    """

    def __init__(self, model: VanillaRNN | LSTM, length: int) -> None:
        self.cell = model.cell
        self.d_w_hh = torch.zeros_like(self.cell.weight_hh)
        self.d_w_ih = torch.zeros_like(self.cell.weight_ih)
        self.d_b = torch.zeros_like(self.cell.bias)
        self.contributions = [0.0] * length
        self.delta_norms = [0.0] * length

    def add(self, t: int, z: Tensor, h_prev: Tensor, x_t: Tensor) -> Tensor:
        term = z.t() @ h_prev  # z_t h_{t-1}^T summed over the batch, (G*H, H)
        self.d_w_hh += term
        self.d_w_ih += z.t() @ x_t  # z_t x_t^T, (G*H, D)
        self.d_b += z.sum(0)  # z_t
        self.contributions[t - 1] = float(torch.linalg.matrix_norm(term))
        self.delta_norms[t - 1] = float(torch.linalg.vector_norm(z))
        return z @ self.cell.weight_hh  # W_hh^T z_t, (B, H)

    def result(
        self,
        model: VanillaRNN | LSTM,
        loss: Tensor,
        error: Tensor,
        h_last: Tensor,
        state_grads: list[Tensor],
        cell_grads: list[Tensor] | None = None,
    ) -> BPTTResult:
        """The result, with the output layer's gradients from ``error`` = dL/dp = (ŷ - y) / B and h_T."""
        names = parameter_names(model)
        grads = {
            names["weight_ph"]: error.t() @ h_last,  # (ŷ - y) h_T^T summed over the batch, (C, H)
            names["bias_p"]: error.sum(0),  # ŷ - y, (C,)
        }
        grads[names["weight_hh"]] = self.d_w_hh
        grads[names["weight_ih"]] = self.d_w_ih
        grads[names["bias"]] = self.d_b
        return BPTTResult(
            model="lstm" if isinstance(model, LSTM) else "rnn",
            loss=float(loss),
            gradients=grads,
            contributions=self.contributions,
            delta_norms=self.delta_norms,
            state_grad_norms=[float(torch.linalg.vector_norm(g)) for g in state_grads],
            state_grads=state_grads,
            cell_grad_norms=[float(torch.linalg.vector_norm(g)) for g in cell_grads or []],
            cell_grads=cell_grads or [],
        )


@torch.no_grad()
def rnn_gradients(model: VanillaRNN, x: Tensor, y: Tensor) -> BPTTResult:
    r"""The gradients of the mean cross-entropy of ``model(x)`` against ``y``, derived by hand (see the module).

    A forward loop keeps h_0 ... h_T; a backward loop from t = T down to 1 forms
    :math:`\delta_t = (1 - h_t^2) \odot \partial L/\partial h_t` and accumulates
    :math:`\delta_t h_{t-1}^\top`, :math:`\delta_t x_t^\top` and :math:`\delta_t`. No autograd.

    Args:
        model: a gnnhw :class:`~gnnhw.recurrent.models.VanillaRNN` (any dtype; use float64 to compare).
        x: inputs (B, T, input_size).
        y: target classes (B,), long.

    Raises:
        ConfigError: ``model`` is not a VanillaRNN. ShapeError: ``x`` or ``y`` do not fit it.
    """
    _check(model, VanillaRNN, x, y)
    batch, length = x.shape[0], x.shape[1]
    hs = _rnn_forward(model, x)
    y_hat, one_hot, loss = _output_error(model, hs[-1], y)
    error = (y_hat - one_hot) / batch  # dL/dp = (ŷ - y) / B, (B, C)
    sums = _SumsOverTime(model, length)
    dh = error @ model.weight_ph  # dL/dh_T = W_ph^T (ŷ - y), (B, H)
    state_grads = [dh] * length
    for t in range(length, 0, -1):  # t = T ... 1; hs[t] is h_t
        state_grads[t - 1] = dh
        delta = (1.0 - hs[t] * hs[t]) * dh  # δ_t = (1 - h_t²) ⊙ dL/dh_t, (B, H)
        # Σ_t δ_t h_{t-1}^T, Σ_t δ_t x_t^T, Σ_t δ_t; then dL/dh_{t-1} = W_hh^T δ_t
        dh = sums.add(t, delta, hs[t - 1], x[:, t - 1])
    return sums.result(model, loss, error, hs[-1], state_grads)


@torch.no_grad()
def rnn_mistakes(model: VanillaRNN, x: Tensor, y: Tensor) -> dict[str, tuple[str, Tensor]]:
    """The usual wrong answers to Q1.1 (:data:`MISTAKES`), each as (parameter name, wrong gradient).

    - ``sign_flipped``: :math:`-(\\hat y - y) h_T^\\top` for dL/dW_ph;
    - ``diagonal_softmax``: :math:`-y \\odot (1 - \\hat y)\\, h_T^\\top` for dL/dW_ph (right for the target class,
      zero instead of :math:`\\hat y_l h_T` for every other class);
    - ``last_step_only``: :math:`\\delta_T h_{T-1}^\\top` for dL/dW_hh (equal to the right answer only when
      T <= 2, since h_0 = 0).

    Batched like :func:`rnn_gradients` (summed over the batch, divided by B). Same arguments and errors.
    """
    _check(model, VanillaRNN, x, y)
    names = parameter_names(model)
    batch = x.shape[0]
    hs = _rnn_forward(model, x)
    y_hat, one_hot, _ = _output_error(model, hs[-1], y)
    error = (y_hat - one_hot) / batch
    diagonal = -one_hot * (1.0 - y_hat) / batch  # -y_l (δ_ll - ŷ_l): the k = l term only
    dh_last = error @ model.weight_ph  # dL/dh_T
    delta_last = (1.0 - hs[-1] * hs[-1]) * dh_last  # δ_T
    return {
        "sign_flipped": (names["weight_ph"], -(error.t() @ hs[-1])),
        "diagonal_softmax": (names["weight_ph"], diagonal.t() @ hs[-1]),
        "last_step_only": (names["weight_hh"], delta_last.t() @ hs[-2]),
    }


@torch.no_grad()
def lstm_gradients(model: LSTM, x: Tensor, y: Tensor) -> BPTTResult:
    r"""The LSTM's gradients by hand, the memory path included (no autograd).

    Forward (gates fused in torch's order i, f, g, o, as :class:`~gnnhw.recurrent.cells.LSTMCell`):
    :math:`c_t = g_t \odot i_t + c_{t-1} \odot f_t`, :math:`h_t = \tanh(c_t) \odot o_t`, :math:`p = W_{ph} h_T + b_p`.
    Backward from t = T to 1, with :math:`\bar h_t = \partial L/\partial h_t` and
    :math:`\bar c_t = \partial L/\partial c_t`:

    .. math::
        \bar c_t &= \bar c_{t+1} \odot f_{t+1} + \bar h_t \odot o_t \odot (1 - \tanh^2 c_t)
            \quad (\bar c_{T+1} = 0) \\
        \bar o_t &= \bar h_t \odot \tanh c_t, \quad \bar i_t = \bar c_t \odot g_t, \quad
        \bar g_t = \bar c_t \odot i_t, \quad \bar f_t = \bar c_t \odot c_{t-1} \\
        \bar z_t &= [\bar i_t\, i_t(1-i_t);\ \bar f_t\, f_t(1-f_t);\ \bar g_t (1-g_t^2);\ \bar o_t\, o_t(1-o_t)] \\
        \bar h_{t-1} &= W_{hh}^\top \bar z_t, \quad
        \partial L/\partial W_{hh} = \textstyle\sum_t \bar z_t h_{t-1}^\top, \quad
        \partial L/\partial W_{ih} = \textstyle\sum_t \bar z_t x_t^\top, \quad
        \partial L/\partial b = \textstyle\sum_t \bar z_t

    The memory gradient :math:`\bar c_t` is passed back through the forget gate alone (an element-wise product,
    no matrix and no squashing derivative), which is why it does not vanish as the RNN's does while f ≈ 1.
    ``contributions`` are :math:`\|\bar z_t h_{t-1}^\top\|_F` (step t's term of dL/dW_hh), ``delta_norms``
    :math:`\|\bar z_t\|`, ``cell_grad_norms`` :math:`\|\bar c_t\|`.

    Args:
        model: a gnnhw :class:`~gnnhw.recurrent.models.LSTM`.
        x: inputs (B, T, input_size). y: target classes (B,), long.

    Raises:
        ConfigError: ``model`` is not an LSTM. ShapeError: ``x`` or ``y`` do not fit it.
    """
    _check(model, LSTM, x, y)
    cell = model.cell
    batch, length = x.shape[0], x.shape[1]
    hidden = cell.hidden_size
    hs = [x.new_zeros(batch, hidden)]  # h_0 = 0
    cs = [x.new_zeros(batch, hidden)]  # c_0 = 0
    gates = []  # (i, f, g, o) of each step
    for t in range(length):
        z = x[:, t] @ cell.weight_ih.t() + hs[-1] @ cell.weight_hh.t() + cell.bias  # (B, 4H)
        i, f, g, o = z.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        cs.append(g * i + cs[-1] * f)  # c_t = g ⊙ i + c_{t-1} ⊙ f
        hs.append(torch.tanh(cs[-1]) * o)  # h_t = tanh(c_t) ⊙ o
        gates.append((i, f, g, o))
    y_hat, one_hot, loss = _output_error(model, hs[-1], y)
    error = (y_hat - one_hot) / batch  # dL/dp
    sums = _SumsOverTime(model, length)
    dh = error @ model.weight_ph  # dL/dh_T
    dc_next = x.new_zeros(batch, hidden)  # dL/dc_{t+1} ⊙ f_{t+1}: nothing beyond T
    state_grads, cell_grads = [dh] * length, [dh] * length
    for t in range(length, 0, -1):
        i, f, g, o = gates[t - 1]
        tanh_c = torch.tanh(cs[t])
        dc = dc_next + dh * o * (1.0 - tanh_c * tanh_c)  # c̄_t
        state_grads[t - 1], cell_grads[t - 1] = dh, dc
        dz = torch.cat(
            [
                dc * g * i * (1.0 - i),  # ī_t σ'
                dc * cs[t - 1] * f * (1.0 - f),  # f̄_t σ'
                dc * i * (1.0 - g * g),  # ḡ_t tanh'
                dh * tanh_c * o * (1.0 - o),  # ō_t σ'
            ],
            dim=-1,
        )  # (B, 4H)
        # Σ_t z̄_t h_{t-1}^T, Σ_t z̄_t x_t^T, Σ_t z̄_t; then h̄_{t-1} = W_hh^T z̄_t
        dh = sums.add(t, dz, hs[t - 1], x[:, t - 1])
        dc_next = dc * f  # the memory path: c̄_t ⊙ f_t
    return sums.result(model, loss, error, hs[-1], state_grads, cell_grads)


def autograd_gradients(model: VanillaRNN | LSTM, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """The reference: autograd's gradients of ``F.cross_entropy(model(x), y)``, keyed by parameter name.

    The model's ``.grad`` fields are left untouched (``torch.autograd.grad``).
    """
    named = dict(model.named_parameters())
    with torch.enable_grad():
        loss = nn.functional.cross_entropy(model(x), y)
        values = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
    return {name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(named.items(), values, strict=True)}


@dataclass
class BPTTCheck:
    """Hand-derived vs autograd for one random batch: the numbers behind ``gnnhw bptt``."""

    model: str
    length: int  # time steps T the model reads
    hidden_size: int
    input_size: int
    batch_size: int
    seed: int
    dtype: str
    forget_bias: float  # LSTM only: added to b_f at initialisation
    loss: float
    max_abs_diff: dict[str, float]  # parameter name -> max |hand - autograd|
    grad_max_abs: dict[str, float]  # parameter name -> max |autograd| (the scale of the gradient)
    mistakes: dict[str, dict[str, object]]  # variant -> {"parameter", "formula", "max_abs_diff", "relative_diff"}
    # (RNN only; relative_diff is ||wrong - right||_F / ||right||_F)
    result: BPTTResult = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (the per-step norms included; the gradient tensors left out)."""
        out = {k: v for k, v in self.__dict__.items() if k != "result"}
        out["contributions"] = self.result.contributions
        out["delta_norms"] = self.result.delta_norms
        out["state_grad_norms"] = self.result.state_grad_norms
        if self.result.cell_grad_norms:
            out["cell_grad_norms"] = self.result.cell_grad_norms
        return out


MAX_LENGTH = 10_000  # time steps; a Python loop per step, longer takes minutes
MAX_HIDDEN_SIZE = 4096
MAX_BATCH_SIZE = 100_000
MAX_ELEMENTS = 50_000_000  # B * T * 4H float64 values kept for the backward loop (400 MB)


def check_bptt(
    model: str = "rnn",
    length: int = 20,
    hidden_size: int = 16,
    batch_size: int = 8,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    forget_bias: float = 0.0,
) -> BPTTCheck:
    """Build a gnnhw ``model`` (``"rnn"`` or ``"lstm"``, torch's initialisation from ``seed``), feed it a batch of
    palindrome inputs (one-hot digits, input_size 10; ``length`` input digits, the last digit of a palindrome of
    length ``length + 1`` as target), and compare the hand-derived gradients with autograd's, and each of
    :data:`MISTAKES` (RNN only) with autograd's. ``forget_bias`` (LSTM only) is added to b_f at initialisation
    (0: torch's initialisation; gnnhw's palindrome training uses 1).

    Raises:
        ConfigError: unknown model, or a size outside 1..its maximum (:data:`MAX_LENGTH`, :data:`MAX_HIDDEN_SIZE`,
        :data:`MAX_BATCH_SIZE`, and B * T * 4H <= :data:`MAX_ELEMENTS`), a negative seed, or a forget_bias
        outside -100..100.
    """
    from gnnhw.recurrent.palindrome import NUM_DIGITS, palindrome_batch

    if model not in ("rnn", "lstm"):
        raise ConfigError(f"unknown model {model!r}; expected 'rnn' or 'lstm'")
    for name, value, most in (
        ("length", length, MAX_LENGTH),
        ("hidden_size", hidden_size, MAX_HIDDEN_SIZE),
        ("batch_size", batch_size, MAX_BATCH_SIZE),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            raise ConfigError(f"{name} must be an integer in 1..{most}, got {value!r}")
    if batch_size * length * 4 * hidden_size > MAX_ELEMENTS:
        raise ConfigError(
            f"batch_size * length * 4 * hidden_size = {batch_size * length * 4 * hidden_size:,} values exceed "
            f"{MAX_ELEMENTS:,}; use a smaller batch, length or hidden size"
        )
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, int | float) or not -100 <= forget_bias <= 100:
        raise ConfigError(f"forget_bias must be a number in -100..100, got {forget_bias!r}")
    torch.manual_seed(seed)
    net: VanillaRNN | LSTM
    if model == "lstm":
        net = LSTM(NUM_DIGITS, hidden_size, NUM_DIGITS, forget_bias=float(forget_bias)).to(dtype)
    else:
        net = VanillaRNN(NUM_DIGITS, hidden_size, NUM_DIGITS).to(dtype)
    x, y = palindrome_batch(length + 1, batch_size, torch.Generator().manual_seed(seed))
    x = x.to(dtype)
    hand = lstm_gradients(net, x, y) if isinstance(net, LSTM) else rnn_gradients(net, x, y)
    auto = autograd_gradients(net, x, y)
    diffs = {name: float((hand.gradients[name] - g).abs().max()) for name, g in auto.items()}
    scale = {name: float(g.abs().max()) for name, g in auto.items()}
    mistakes: dict[str, dict[str, object]] = {}
    if isinstance(net, VanillaRNN):
        for variant, (name, wrong) in rnn_mistakes(net, x, y).items():
            right = auto[name]
            gap, norm = float(torch.linalg.vector_norm(wrong - right)), float(torch.linalg.vector_norm(right))
            mistakes[variant] = {
                "parameter": name,
                "formula": MISTAKES[variant],
                "max_abs_diff": float((wrong - right).abs().max()),
                "relative_diff": gap / norm if norm > 0 else None,  # ||wrong - right|| / ||right|| (None: right = 0)
            }
    return BPTTCheck(
        model=model,
        length=length,
        hidden_size=hidden_size,
        input_size=NUM_DIGITS,
        batch_size=batch_size,
        seed=seed,
        dtype=str(dtype).removeprefix("torch."),
        forget_bias=float(forget_bias),
        loss=hand.loss,
        max_abs_diff=diffs,
        grad_max_abs=scale,
        mistakes=mistakes,
        result=hand,
    )


__all__ = [
    "MISTAKES",
    "BPTTCheck",
    "BPTTResult",
    "autograd_gradients",
    "check_bptt",
    "lstm_gradients",
    "parameter_names",
    "rnn_gradients",
    "rnn_mistakes",
]
