"""BPTT by hand (gnnhw.recurrent.bptt) equals autograd in float64; the usual mistakes do not."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.bptt import (
    MISTAKES,
    autograd_gradients,
    check_bptt,
    lstm_gradients,
    parameter_names,
    rnn_gradients,
    rnn_mistakes,
)
from gnnhw.recurrent.models import LSTM, TorchRecurrentClassifier, VanillaRNN

TOL = 1e-10  # the bound in float64; the observed differences are ~1e-16
CASES = [(seed, length) for seed, length in enumerate([1, 2, 3, 5, 8, 13, 21, 30])]


def _problem(model_class, seed: int, length: int):
    """A float64 model of random sizes and a random batch (inputs of unit scale, so the gradients are not tiny)."""
    gen = torch.Generator().manual_seed(1000 + seed)
    input_size, hidden_size, num_classes, batch = (int(v) for v in torch.randint(1, 12, (4,), generator=gen))
    num_classes += 1  # at least two classes
    torch.manual_seed(seed)
    model = model_class(input_size, hidden_size, num_classes).double()
    with torch.no_grad():  # larger weights than torch's init, so the tanh/sigmoid saturation is exercised too
        for p in model.parameters():
            p.mul_(2.0)
    x = torch.randn(batch, length, input_size, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (batch,), generator=gen)
    return model, x, y


def _assert_equal_grads(hand: dict, auto: dict) -> None:
    assert hand.keys() == auto.keys()
    for name, g in auto.items():
        assert hand[name].shape == g.shape, name
        assert float((hand[name] - g).abs().max()) <= TOL, name


@pytest.mark.parametrize(("seed", "length"), CASES)
def test_rnn_gradients_equal_autograd(seed, length):
    model, x, y = _problem(VanillaRNN, seed, length)
    result = rnn_gradients(model, x, y)
    _assert_equal_grads(result.gradients, autograd_gradients(model, x, y))
    with torch.no_grad():
        assert result.loss == pytest.approx(float(nn.functional.cross_entropy(model(x), y)), abs=1e-12)


@pytest.mark.parametrize(("seed", "length"), CASES[::2])
def test_rnn_gradients_equal_torch_nn_rnn(seed, length):
    """Against the same model on torch.nn.RNN (its two biases both get dL/db_h)."""
    model, x, y = _problem(VanillaRNN, seed, length)
    ref = TorchRecurrentClassifier.from_scratch(model).double()
    nn.functional.cross_entropy(ref(x), y).backward()
    hand = rnn_gradients(model, x, y).gradients
    names = parameter_names(model)
    pairs = {
        "weight_ih": ref.rnn.weight_ih_l0,
        "weight_hh": ref.rnn.weight_hh_l0,
        "bias": ref.rnn.bias_hh_l0,
        "weight_ph": ref.head.weight,
        "bias_p": ref.head.bias,
    }
    for role, param in pairs.items():
        assert float((hand[names[role]] - param.grad).abs().max()) <= TOL, role
    assert float((hand[names["bias"]] - ref.rnn.bias_ih_l0.grad).abs().max()) <= TOL


@pytest.mark.parametrize(("seed", "length"), CASES[1::2])
def test_rnn_state_gradients_equal_autograd(seed, length):
    """dL/dh_t for every t, against autograd through the model's own hidden states."""
    model, x, y = _problem(VanillaRNN, seed, length)
    logits, states = model.forward_with_states(x)
    auto = torch.autograd.grad(nn.functional.cross_entropy(logits, y), states)
    hand = rnn_gradients(model, x, y).state_grads
    assert len(hand) == length
    for t in range(length):
        assert float((hand[t] - auto[t]).abs().max()) <= TOL, t


def test_rnn_contributions_are_the_per_step_terms_of_the_w_hh_gradient():
    """Unrolled with a separate copy W_hh^(t) per step (all equal), autograd's dL/dW_hh^(t) is step t's term."""
    model, x, y = _problem(VanillaRNN, 3, 9)
    cell = model.cell
    copies = [cell.weight_hh.detach().clone().requires_grad_() for _ in range(x.shape[1])]
    h = x.new_zeros(x.shape[0], cell.hidden_size)
    for t, w_hh in enumerate(copies):
        h = torch.tanh(x[:, t] @ cell.weight_ih.t() + h @ w_hh.t() + cell.bias)
    loss = nn.functional.cross_entropy(model.output(h), y)
    terms = torch.autograd.grad(loss, copies)
    result = rnn_gradients(model, x, y)
    expected = [float(torch.linalg.matrix_norm(term)) for term in terms]
    assert result.contributions == pytest.approx(expected, abs=1e-12)
    assert result.contributions[0] == 0.0  # h_0 = 0
    summed = sum(terms)
    assert float((result.gradients[parameter_names(model)["weight_hh"]] - summed).abs().max()) <= TOL


@pytest.mark.parametrize(("seed", "length"), CASES)
def test_lstm_gradients_equal_autograd(seed, length):
    model, x, y = _problem(LSTM, seed, length)
    result = lstm_gradients(model, x, y)
    _assert_equal_grads(result.gradients, autograd_gradients(model, x, y))


@pytest.mark.parametrize(("seed", "length"), CASES[1::2])
def test_lstm_memory_gradients_equal_autograd(seed, length):
    """dL/dc_t and dL/dh_t for every t, against autograd through the cell's own steps (which give the same logits)."""
    model, x, y = _problem(LSTM, seed, length)
    projected = model.cell.project_input(x)
    state = (x.new_zeros(x.shape[0], model.cell.hidden_size),) * 2
    hs, cs = [], []
    for t in range(length):
        state = model.cell.step(projected[:, t], state)
        hs.append(state[0])
        cs.append(state[1])
    logits = model.output(state[0])
    torch.testing.assert_close(logits, model(x), atol=1e-14, rtol=0)
    auto = torch.autograd.grad(nn.functional.cross_entropy(logits, y), cs + hs, allow_unused=True)
    auto_c, auto_h = auto[:length], auto[length:]
    result = lstm_gradients(model, x, y)
    for t in range(length):
        assert float((result.cell_grads[t] - auto_c[t]).abs().max()) <= TOL, t
        assert float((result.state_grads[t] - auto_h[t]).abs().max()) <= TOL, t
    assert result.cell_grad_norms == pytest.approx([float(torch.linalg.vector_norm(g)) for g in auto_c], abs=1e-12)


@pytest.mark.parametrize(("seed", "length"), [(0, 3), (1, 6), (2, 12), (3, 30)])
def test_each_usual_mistake_differs_from_autograd(seed, length):
    model, x, y = _problem(VanillaRNN, seed, length)
    auto = autograd_gradients(model, x, y)
    wrong = rnn_mistakes(model, x, y)
    assert wrong.keys() == MISTAKES.keys()
    for variant, (name, grad) in wrong.items():
        right = auto[name]
        gap = float(torch.linalg.vector_norm(grad - right) / torch.linalg.vector_norm(right))
        assert gap > 1e-3, variant  # a clear margin: the right formula agrees to 1e-10 and better


def test_last_step_only_is_right_only_without_earlier_terms():
    """With T = 2 the t = 1 term is δ_1 h_0^T = 0, so 'last_step_only' is correct there; from T = 3 on it is not."""
    model, x, y = _problem(VanillaRNN, 5, 2)
    name, grad = rnn_mistakes(model, x, y)["last_step_only"]
    assert float((grad - autograd_gradients(model, x, y)[name]).abs().max()) <= TOL


def test_diagonal_softmax_mistake_is_right_on_the_target_row_only():
    model, x, y = _problem(VanillaRNN, 4, 5)
    name, grad = rnn_mistakes(model, x[:1], y[:1])["diagonal_softmax"]
    right = autograd_gradients(model, x[:1], y[:1])[name]
    target = int(y[0])
    assert float((grad[target] - right[target]).abs().max()) <= TOL
    others = [c for c in range(right.shape[0]) if c != target]
    assert float((grad[others] - right[others]).abs().max()) > 1e-6


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_check_bptt_reports_agreement(model):
    check = check_bptt(model, length=12, hidden_size=6, batch_size=3, seed=1)
    assert max(check.max_abs_diff.values()) <= TOL
    assert min(check.grad_max_abs.values()) > 1e-8  # the comparison is not between zeros
    assert len(check.result.contributions) == 12
    if model == "rnn":
        assert set(check.mistakes) == set(MISTAKES)
        assert all(m["relative_diff"] > 1e-3 for m in check.mistakes.values())
    else:
        assert check.mistakes == {}
        assert len(check.result.cell_grad_norms) == 12
    payload = check.to_dict()
    assert payload["contributions"] == check.result.contributions
    assert "result" not in payload


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "gru"},
        {"length": 0},
        {"length": -3},
        {"hidden_size": 10**6},
        {"batch_size": 0},
        {"length": 10_000, "hidden_size": 4096, "batch_size": 100},
        {"seed": -1},
        {"length": 2.5},
        {"model": "lstm", "forget_bias": float("nan")},
    ],
)
def test_check_bptt_refuses_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        check_bptt(**kwargs)


def test_check_bptt_lstm_with_a_forget_bias_agrees_and_keeps_more_memory_gradient():
    """b_f += 1 (gnnhw's palindrome default) starts f near σ(1) ≈ 0.73 instead of 0.5: dL/dc_1 shrinks less."""
    plain = check_bptt("lstm", length=20, hidden_size=8, batch_size=4, seed=2, forget_bias=0.0)
    biased = check_bptt("lstm", length=20, hidden_size=8, batch_size=4, seed=2, forget_bias=1.0)
    assert max(biased.max_abs_diff.values()) <= TOL
    assert biased.forget_bias == 1.0
    ratio = [c.result.cell_grad_norms[0] / c.result.cell_grad_norms[-1] for c in (plain, biased)]
    assert ratio[1] > 10 * ratio[0]


def test_bad_model_or_shapes_are_refused():
    model, x, y = _problem(VanillaRNN, 0, 4)
    with pytest.raises(ConfigError, match="LSTM"):
        lstm_gradients(model, x, y)
    with pytest.raises(ShapeError):
        rnn_gradients(model, x[..., :0], y)
    with pytest.raises(ShapeError):
        rnn_gradients(model, x, y[:-1] if len(y) > 1 else y.repeat(2))
    with pytest.raises(ShapeError):
        rnn_gradients(model, x, torch.full_like(y, 99))
