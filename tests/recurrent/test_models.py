"""The classifiers equal the same model on torch.nn.RNN / torch.nn.LSTM (outputs and gradients)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.cells import LSTMCell
from gnnhw.recurrent.models import LSTM, TorchRecurrentClassifier, VanillaRNN, build_model

ATOL = 1e-5  # float32
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}  # per dtype: a float32 rounding slip fails the float64 cases


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("model_class", [VanillaRNN, LSTM])
@pytest.mark.parametrize(("seed", "input_size", "length"), [(0, 10, 9), (1, 1, 4), (2, 3, 1)])
def test_model_equals_torch_reference(model_class, seed, input_size, length, dtype):
    torch.manual_seed(seed)
    ATOL = TOL[dtype]
    ours = model_class(input_size, 12, 10, dtype=dtype)
    ref = TorchRecurrentClassifier.from_scratch(ours)
    x = torch.randn(6, length, input_size, dtype=dtype)
    y = torch.randint(0, 10, (6,))
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ours, out_ref = ours(x_ours), ref(x_ref)
    assert out_ours.shape == (6, 10)
    torch.testing.assert_close(out_ours, out_ref, atol=ATOL, rtol=0)
    nn.functional.cross_entropy(out_ours, y).backward()
    nn.functional.cross_entropy(out_ref, y).backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, atol=ATOL, rtol=0)
    cell, rnn = ours.cell, ref.rnn
    torch.testing.assert_close(cell.weight_ih.grad, rnn.weight_ih_l0.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(cell.weight_hh.grad, rnn.weight_hh_l0.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(cell.bias.grad, rnn.bias_ih_l0.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.weight_ph.grad, ref.head.weight.grad, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours.bias_p.grad, ref.head.bias.grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("model_class", [VanillaRNN, LSTM])
def test_forward_with_states_gives_the_same_logits_and_every_state(model_class):
    torch.manual_seed(0)
    model = model_class(10, 8, 10)
    x = torch.randn(3, 7, 10)
    logits, states = model.forward_with_states(x)
    torch.testing.assert_close(logits, model(x))
    assert len(states) == 7
    assert all(h.shape == (3, 8) for h in states)
    ref_out, _ = TorchRecurrentClassifier.from_scratch(model).rnn(x)  # (B, T, H): every h_t
    torch.testing.assert_close(torch.stack(states, 1), ref_out, atol=ATOL, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("model_class", [VanillaRNN, LSTM])
def test_from_scratch_keeps_dtype_and_copies_weights_bit_for_bit(model_class, dtype):
    # Issue #8, example 8: from_scratch of a float64 model returned a float32 model that failed on float64 input.
    torch.manual_seed(0)
    ours = model_class(3, 4, 2, dtype=dtype)
    assert all(p.dtype == dtype for p in ours.parameters())
    ref = TorchRecurrentClassifier.from_scratch(ours)
    assert all(p.dtype == dtype for p in ref.parameters())
    assert torch.equal(ref.rnn.weight_ih_l0, ours.cell.weight_ih)
    assert torch.equal(ref.rnn.weight_hh_l0, ours.cell.weight_hh)
    assert torch.equal(ref.rnn.bias_ih_l0, ours.cell.bias)
    assert torch.equal(ref.head.weight, ours.weight_ph)
    assert torch.equal(ref.head.bias, ours.bias_p)
    x = torch.randn(2, 5, 3).to(dtype)
    assert ref(x).dtype == dtype
    assert ours(x).dtype == dtype


def test_lstm_parameter_count_is_cell_plus_output_layer():
    d, n, c = 10, 128, 10
    model = LSTM(d, n, c)
    assert sum(p.numel() for p in model.parameters()) == 4 * (d * n + n * n + n) + n * c + c


def test_models_hold_no_torch_recurrent_or_linear_module():
    for model in (VanillaRNN(3, 4, 5), LSTM(3, 4, 5)):
        kinds = {type(m) for m in model.modules()}
        assert not kinds & {nn.RNN, nn.LSTM, nn.Linear, nn.RNNCell, nn.LSTMCell}


def test_build_model_names_and_unknown_model():
    assert isinstance(build_model("rnn", 10, 4, 10), VanillaRNN)
    assert isinstance(build_model("lstm", 10, 4, 10), LSTM)
    with pytest.raises(ConfigError, match="unknown model 'gru'"):
        build_model("gru", 10, 4, 10)


def test_bad_sizes_and_shapes():
    with pytest.raises(ConfigError, match="num_classes"):
        LSTM(10, 4, 0)
    with pytest.raises(ConfigError, match="positive integer"):
        VanillaRNN(10, -1, 10)
    with pytest.raises(ShapeError, match=r"\(batch, T >= 1, 10\)"):
        LSTM(10, 4, 10)(torch.randn(2, 5, 3))
    with pytest.raises(ShapeError):
        LSTM(10, 4, 10)(torch.randn(5, 10))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("model_class", [VanillaRNN, LSTM])
def test_from_scratch_keeps_the_cuda_device(model_class):
    ours = model_class(3, 4, 2, device="cuda", dtype=torch.float64)
    ref = TorchRecurrentClassifier.from_scratch(ours)
    assert all(p.device.type == "cuda" for p in ref.parameters())
    assert all(p.dtype == torch.float64 for p in ref.parameters())


# ------------------------------------------------------------------------------- old names, one release


@pytest.mark.parametrize("model_class", [VanillaRNN, LSTM])
def test_old_size_keywords_and_attributes_still_work_with_a_deprecation_warning(model_class):
    with pytest.warns(DeprecationWarning, match="num_hidden= is deprecated"):
        model = model_class(input_dim=3, num_hidden=4, num_classes=10)
    assert model.input_size == 3
    assert model.hidden_size == 4
    with pytest.warns(DeprecationWarning, match="use hidden_size"):
        assert model.num_hidden == 4
    with pytest.warns(DeprecationWarning, match="use input_size"):
        assert model.input_dim == 3


@pytest.mark.parametrize(("old", "impl"), [("torch", "reference"), ("scratch", "scratch")])
def test_text_model_old_cell_keyword_still_works_with_a_deprecation_warning(old, impl):
    from gnnhw.recurrent.models import TextGenerationModel

    with pytest.warns(DeprecationWarning, match="cell=.*is deprecated"):
        model = TextGenerationModel(5, 8, 1, cell=old)
    assert model.impl == impl
    assert isinstance(model.head, torch.nn.Linear)


def test_text_model_impl_selects_torch_or_gnnhw_cells():
    from gnnhw.recurrent.models import TextGenerationModel

    assert isinstance(TextGenerationModel(5, 8, 1, impl="reference").lstm, torch.nn.LSTM)
    assert isinstance(TextGenerationModel(5, 8, 1, impl="scratch").cells[0], LSTMCell)
