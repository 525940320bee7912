"""The from-scratch cells equal torch.nn's, outputs and gradients, on random sequences."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.cells import LSTMCell, RNNCell

ATOL = 1e-5  # float32
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}  # per dtype: a float32 rounding slip fails the float64 cases
DTYPES = [torch.float32, torch.float64]


def _unroll(cell, xs, state=None):
    outputs = []
    for t in range(xs.shape[1]):
        state = cell(xs[:, t], state)
        outputs.append(state if isinstance(state, torch.Tensor) else state[0])
    return torch.stack(outputs, dim=1), state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rnn_cell_matches_torch_outputs_and_gradients(seed, dtype):
    torch.manual_seed(seed)
    ATOL = TOL[dtype]
    ref = nn.RNNCell(7, 11, nonlinearity="tanh", dtype=dtype)
    ours = RNNCell.from_torch(ref)
    xs = torch.randn(5, 9, 7, dtype=dtype)
    x_ref, x_ours = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    out_ref, _ = _unroll(ref, x_ref)
    out_ours, _ = _unroll(ours, x_ours)
    torch.testing.assert_close(out_ours, out_ref, atol=ATOL, rtol=0)
    weights = torch.randn_like(out_ref)
    (out_ref * weights).sum().backward()
    (out_ours * weights).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.weight_ih.grad, ref.weight_ih.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.weight_hh.grad, ref.weight_hh.grad, atol=ATOL, rtol=0)
    # torch's two biases receive the same gradient; ours is their sum's, i.e. equal to either.
    torch.testing.assert_close(ours.bias.grad, ref.bias_ih.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.bias.grad, ref.bias_hh.grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_cell_matches_torch_outputs_and_gradients(seed, dtype):
    torch.manual_seed(seed)
    ATOL = TOL[dtype]
    ref = nn.LSTMCell(6, 13, dtype=dtype)
    ours = LSTMCell.from_torch(ref)
    xs = torch.randn(4, 12, 6, dtype=dtype)
    h0, c0 = torch.randn(4, 13, dtype=dtype), torch.randn(4, 13, dtype=dtype)
    x_ref, x_ours = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    out_ref, (h_ref, c_ref) = _unroll(ref, x_ref, (h0, c0))
    out_ours, (h_ours, c_ours) = _unroll(ours, x_ours, (h0, c0))
    torch.testing.assert_close(out_ours, out_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(c_ours, c_ref, atol=ATOL, rtol=0)
    weights, c_weights = torch.randn_like(out_ref), torch.randn_like(c_ref)
    ((out_ref * weights).sum() + (c_ref * c_weights).sum()).backward()
    ((out_ours * weights).sum() + (c_ours * c_weights).sum()).backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.weight_ih.grad, ref.weight_ih.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.weight_hh.grad, ref.weight_hh.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.bias.grad, ref.bias_ih.grad, atol=ATOL, rtol=0)


def test_project_then_step_equals_calling_the_cell():
    torch.manual_seed(0)
    cell = LSTMCell(3, 5)
    xs = torch.randn(2, 7, 3)
    projected = cell.project_input(xs)  # (B, T, 4H), all time steps at once
    state_a = state_b = None
    for t in range(7):
        state_a = cell(xs[:, t], state_a)
        state_b = cell.step(projected[:, t], state_b)
    torch.testing.assert_close(state_a[0], state_b[0])
    torch.testing.assert_close(state_a[1], state_b[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_input_matches_torch(dtype):
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, 4, dtype=dtype)
    ours = LSTMCell.from_torch(ref)
    x = torch.randn(3, dtype=dtype)
    for got, want in zip(ours(x), ref(x), strict=True):
        assert got.shape == (4,)
        torch.testing.assert_close(got, want, atol=TOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("torch_class", [nn.RNNCell, nn.LSTMCell])
def test_from_torch_keeps_dtype_and_copies_weights_bit_for_bit(torch_class, dtype):
    # Issue #8, example 8: a float64 cell was built in float32 and cast back, rounding every weight.
    torch.manual_seed(0)
    ref = torch_class(3, 4, dtype=dtype)
    ours = (RNNCell if torch_class is nn.RNNCell else LSTMCell).from_torch(ref)
    for param in ours.parameters():
        assert param.dtype == dtype
        assert param.device == ref.weight_ih.device
    assert torch.equal(ours.weight_ih, ref.weight_ih)
    assert torch.equal(ours.weight_hh, ref.weight_hh)
    assert torch.equal(ours.bias, ref.bias_ih + ref.bias_hh)  # the sum, computed in the source dtype


def test_float64_lstm_cell_state_matches_torch_to_float64_precision():
    # Issue #8, example 8: the hidden state was off by 2.7e-9 (RNN: 1e-8) after a float32 round trip.
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, 4, dtype=torch.float64)
    ours = LSTMCell.from_torch(ref)
    x = torch.randn(2, 3, dtype=torch.float64)
    h_ours, c_ours = ours(x)
    h_ref, c_ref = ref(x)
    assert (h_ours - h_ref).abs().max() < 1e-14
    assert (c_ours - c_ref).abs().max() < 1e-14
    rnn = nn.RNNCell(3, 4, dtype=torch.float64)
    assert (RNNCell.from_torch(rnn)(x) - rnn(x)).abs().max() < 1e-14


@pytest.mark.parametrize(("d", "n"), [(1, 128), (10, 128), (7, 3)])
def test_lstm_parameter_count_is_4_dn_n2_n(d, n):
    cell = LSTMCell(d, n)
    assert sum(p.numel() for p in cell.parameters()) == 4 * (d * n + n * n + n)


def test_gate_blocks_follow_torch_order_i_f_g_o():
    cell = LSTMCell(1, 1)
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.zero_()
        # i = σ(0) = 0.5, f = σ(big) ≈ 1, g = tanh(1), o = σ(0) = 0.5
        cell.bias.copy_(torch.tensor([0.0, 30.0, 1.0, 0.0]))
    h, c = cell(torch.zeros(1, 1), (torch.zeros(1, 1), torch.full((1, 1), 2.0)))
    expected_c = torch.tanh(torch.tensor(1.0)) * 0.5 + 2.0 * 1.0
    torch.testing.assert_close(c, expected_c.reshape(1, 1))
    torch.testing.assert_close(h, (torch.tanh(expected_c) * 0.5).reshape(1, 1))


def test_cells_use_no_torch_recurrent_or_linear_modules():
    for cell in (RNNCell(3, 4), LSTMCell(3, 4)):
        assert list(cell.children()) == []


def test_rnn_from_torch_rejects_relu():
    with pytest.raises(ConfigError, match="tanh"):
        RNNCell.from_torch(nn.RNNCell(2, 3, nonlinearity="relu"))


@pytest.mark.parametrize("sizes", [(0, 4), (3, -1), (3.5, 2)])
def test_non_positive_sizes_are_rejected(sizes):
    with pytest.raises(ConfigError, match="positive integer"):
        LSTMCell(*sizes)


def test_wrong_input_width_is_a_shape_error():
    with pytest.raises(ShapeError, match="expects 3"):
        LSTMCell(3, 4)(torch.randn(2, 5))


def test_forget_bias_shifts_only_the_forget_block_of_the_same_initialisation():
    torch.manual_seed(3)
    plain = LSTMCell(3, 4)
    torch.manual_seed(3)
    shifted = LSTMCell(3, 4, forget_bias=1.0)
    shift = torch.zeros(16)
    shift[4:8] = 1.0  # b_f, the second of the blocks i, f, g, o
    torch.testing.assert_close(shifted.bias, plain.bias + shift, atol=0, rtol=0)
    torch.testing.assert_close(shifted.weight_hh, plain.weight_hh, atol=0, rtol=0)
    shifted.reset_parameters()
    assert shifted.bias[4:8].min() >= 1.0 - 0.5  # U(-1/2, 1/2) + 1 on b_f
    assert shifted.bias[:4].max() <= 0.5


def test_forget_bias_must_be_finite():
    with pytest.raises(ConfigError, match="forget_bias"):
        LSTMCell(3, 4, forget_bias=float("nan"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("torch_class", [nn.RNNCell, nn.LSTMCell])
def test_from_torch_keeps_the_cuda_device_and_dtype(torch_class):
    ref = torch_class(3, 4, device="cuda", dtype=torch.float64)
    ours = (RNNCell if torch_class is nn.RNNCell else LSTMCell).from_torch(ref)
    assert all(p.device == ref.weight_ih.device for p in ours.parameters())
    assert all(p.dtype == torch.float64 for p in ours.parameters())
    assert torch.equal(ours.weight_ih, ref.weight_ih)
    assert torch.equal(ours.weight_hh, ref.weight_hh)
