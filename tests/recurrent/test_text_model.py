"""TextGenerationModel: the scratch stack of gnnhw LSTMCells equals torch.nn.LSTM with the same weights."""

from __future__ import annotations

import pytest
import torch

from gnnhw.errors import ConfigError, ShapeError
from gnnhw.recurrent.models import TextGenerationModel

V, H, L, B, T = 11, 8, 2, 3, 6


TOL = {torch.float32: {"atol": 1e-6, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 0.0}}
DTYPES = [torch.float32, torch.float64]


def _pair(
    dropout: float = 0.0, num_layers: int = L, dtype: torch.dtype = torch.float32
) -> tuple[TextGenerationModel, TextGenerationModel]:
    torch.manual_seed(0)
    ref = TextGenerationModel(V, H, num_layers, dropout, impl="reference", dtype=dtype)
    with torch.no_grad():  # distinct, non-zero biases so the sum bias_ih + bias_hh matters
        for name, p in ref.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
    ours = TextGenerationModel(V, H, num_layers, dropout, impl="scratch", dtype=dtype).copy_weights_from(ref)
    return ref, ours


def test_output_and_state_shapes():
    model = TextGenerationModel(V, H, L, impl="scratch")
    logits, (h, c) = model(torch.randint(0, V, (B, T)))
    assert logits.shape == (B, T, V)
    assert h.shape == c.shape == (L, B, H)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_scratch_equals_torch_outputs_and_states(num_layers, dtype):
    ref, ours = _pair(num_layers=num_layers, dtype=dtype)
    x = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))
    state = (torch.randn(num_layers, B, H, dtype=dtype), torch.randn(num_layers, B, H, dtype=dtype))
    for s in (None, state):
        ref_logits, (ref_h, ref_c) = ref(x, s)
        our_logits, (our_h, our_c) = ours(x, s)
        assert our_logits.dtype == dtype
        torch.testing.assert_close(our_logits, ref_logits, **TOL[dtype])
        torch.testing.assert_close(our_h, ref_h, **TOL[dtype])
        torch.testing.assert_close(our_c, ref_c, **TOL[dtype])


def test_copying_weights_between_dtypes_is_refused_rather_than_rounded():
    ref = TextGenerationModel(V, H, L, impl="reference", dtype=torch.float64)
    with pytest.raises(ConfigError, match="bit for bit"):
        TextGenerationModel(V, H, L, impl="scratch").copy_weights_from(ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scratch_equals_torch_gradients(dtype):
    ref, ours = _pair(dtype=dtype)
    tol = TOL[dtype]
    x = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(3))
    for model in (ref, ours):
        logits, _ = model(x)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
    for layer in range(L):
        cell = ours.cells[layer]
        lstm = ref.lstm
        torch.testing.assert_close(cell.weight_ih.grad, getattr(lstm, f"weight_ih_l{layer}").grad, **tol)
        torch.testing.assert_close(cell.weight_hh.grad, getattr(lstm, f"weight_hh_l{layer}").grad, **tol)
        # d loss / d (b_ih + b_hh) flows equally into each of torch's two biases
        torch.testing.assert_close(cell.bias.grad, getattr(lstm, f"bias_ih_l{layer}").grad, **tol)
        torch.testing.assert_close(cell.bias.grad, getattr(lstm, f"bias_hh_l{layer}").grad, **tol)
    torch.testing.assert_close(ours.head.weight.grad, ref.head.weight.grad, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_copying_scratch_weights_into_torch_gives_the_same_function(dtype):
    _, ours = _pair(dtype=dtype)
    back = TextGenerationModel(V, H, L, impl="reference", dtype=dtype).copy_weights_from(ours)
    x = torch.randint(0, V, (B, T))
    torch.testing.assert_close(back(x)[0], ours(x)[0], **TOL[dtype])


def test_dropout_is_off_in_eval_mode_and_active_in_training():
    ref, ours = _pair(dropout=0.5)
    x = torch.randint(0, V, (B, T))
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-6, rtol=1e-5)
    ours.train()
    assert not torch.allclose(ours(x)[0], ours.eval()(x)[0])


def test_bad_settings_and_inputs_raise():
    with pytest.raises(ConfigError, match="impl"):
        TextGenerationModel(V, impl="gru")
    with pytest.raises(ConfigError, match="hidden_size"):
        TextGenerationModel(V, hidden_size=0)
    with pytest.raises(ConfigError, match="dropout"):
        TextGenerationModel(V, dropout=1.0)
    with pytest.raises(ShapeError, match=r"\(B, T\)"):
        TextGenerationModel(V, H)(torch.zeros(T, dtype=torch.long))
    with pytest.raises(ShapeError):
        TextGenerationModel(V, H, impl="scratch").copy_weights_from(TextGenerationModel(V + 1, H))
