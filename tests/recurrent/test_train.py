"""Training on palindromes: config checks, learning, determinism, early stop, optimizers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.recurrent.train import OPTIMIZERS, PalindromeConfig, make_optimizer, train


def _tiny(**fields) -> PalindromeConfig:
    defaults = dict(model="rnn", length=3, hidden_size=16, batch_size=32, train_steps=20, test_size=200, log_every=5)
    defaults.update(fields)
    return PalindromeConfig(**defaults)


def test_defaults_are_the_assignments():
    config = PalindromeConfig()
    assert config.hidden_size == 128
    assert config.batch_size == 128
    assert config.lr == 1e-3
    assert config.train_steps == 10_000
    assert config.max_norm == 10.0
    assert config.optimizer == "adam"
    assert config.test_size >= 1000


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"length": 1}, r"length must be in \[2, 10000\]"),
        ({"hidden_size": 0}, r"hidden_size must be in \[1, 65536\]"),
        ({"batch_size": -4}, r"batch_size must be in \[1, "),
        ({"train_steps": 0}, r"train_steps must be in \[1, "),
        ({"test_size": 0}, r"test_size must be in \[1, "),
        ({"model": "gru"}, "unknown model 'gru'"),
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'"),
        ({"lr": 0.0}, r"lr must be in \(0, 10\]"),
        ({"lr": -1e-3}, r"lr must be in \(0, 10\]"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"max_norm": 0}, r"max_norm must be in \(0, "),
        ({"input_size": 3}, "unknown input_size 3; expected one of 1, 10"),
        ({"early_stop_accuracy": 1.5}, "early_stop_accuracy"),
        ({"momentum": 1.0}, "momentum"),
        ({"seed": -1}, "seed"),
        ({"impl": "jax"}, "unknown impl 'jax'"),
    ],
)
def test_bad_config_is_a_config_error(fields, message):
    with pytest.raises(ConfigError, match=message):
        train(_tiny(**fields))


def test_rnn_learns_short_palindromes():
    result = train(_tiny(length=4, train_steps=150, lr=1e-2))
    assert result.steps == 150
    assert result.test_accuracy > 0.9  # chance is 0.1
    assert result.train_accuracy[-1] > result.train_accuracy[0]


def test_raw_digit_input_trains_too():
    result = train(_tiny(model="lstm", input_size=1, train_steps=5))
    assert 0.0 <= result.test_accuracy <= 1.0
    assert result.model.input_size == 1


def test_same_seed_gives_the_same_run_and_another_seed_does_not():
    a, b, c = train(_tiny(seed=3)), train(_tiny(seed=3)), train(_tiny(seed=4))
    assert a.train_loss == b.train_loss
    assert a.test_accuracy == b.test_accuracy
    assert a.train_loss != c.train_loss


def test_curve_is_logged_every_log_every_steps_and_at_the_end():
    result = train(_tiny(train_steps=12, log_every=5))
    assert result.curve_steps == [5, 10, 12]
    assert len(result.train_loss) == 3
    assert len(result.train_accuracy) == 3


def test_early_stop_once_training_accuracy_saturates():
    config = _tiny(length=2, train_steps=2000, lr=1e-2, early_stop_accuracy=0.95, early_stop_window=10)
    result = train(config)
    assert result.stopped_early
    assert result.steps < 2000
    assert result.test_accuracy > 0.9


def test_gradients_are_clipped_to_max_norm(monkeypatch):
    seen = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        params = list(params)
        total = original(params, max_norm, *args, **kwargs)
        seen.append((max_norm, float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))))
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    train(_tiny(max_norm=1e-3, train_steps=3))
    assert len(seen) == 3
    assert all(max_norm == 1e-3 for max_norm, _ in seen)
    assert all(norm <= 1e-3 * 1.0001 for _, norm in seen)


# A step size at which each rule learns within 20 steps (plain SGD needs a large one).
_LEARNING_RATES = {"adam": 1e-2, "rmsprop": 1e-2, "sgd": 1.0, "sgd-momentum": 0.1}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains(name):
    result = train(_tiny(optimizer=name, lr=_LEARNING_RATES[name], train_steps=20, log_every=10))
    assert result.steps == 20
    # the mean training loss of steps 11-20 is clearly below that of steps 1-10 (from about ln 10 = 2.30)
    assert result.train_loss[-1] < 0.95 * result.train_loss[0]


def test_sgd_momentum_uses_momentum_and_sgd_does_not():
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert make_optimizer("sgd-momentum", params, 0.1).defaults["momentum"] == 0.9
    assert make_optimizer("sgd", params, 0.1).defaults["momentum"] == 0


def test_to_dict_is_json_ready():
    import json

    record = train(_tiny(train_steps=3)).to_dict()
    assert "model" not in record
    assert record["config"] == dataclasses.asdict(_tiny(train_steps=3))
    json.dumps(record)


def test_reference_impl_trains_the_same_model_on_torch_nn():
    from gnnhw.recurrent.models import TorchRecurrentClassifier

    ours = train(_tiny(model="lstm", train_steps=5))
    ref = train(_tiny(model="lstm", train_steps=5, impl="reference"))
    assert isinstance(ref.model, TorchRecurrentClassifier)
    # Equal models, equal data: the first steps' losses agree to float precision.
    assert ref.train_loss == pytest.approx(ours.train_loss, rel=1e-4)


def test_lstm_starts_with_the_configured_forget_bias():
    from gnnhw.recurrent.train import build

    assert PalindromeConfig().forget_bias == 1.0
    assert build(_tiny(model="lstm")).cell.forget_bias == 1.0
    assert build(_tiny(model="lstm", forget_bias=0.0)).cell.forget_bias == 0.0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"num_hidden": 7}, {"hidden_size": 7}),
        ({"input_dim": 1}, {"input_size": 1}),
        ({"learning_rate": 0.5}, {"lr": 0.5}),
        ({"backend": "torch"}, {"impl": "reference"}),
        ({"backend": "gnnhw"}, {"impl": "scratch"}),
        ({"impl": "torch"}, {"impl": "reference"}),
    ],
)
def test_old_config_names_still_work_with_a_deprecation_warning(old, new):
    with pytest.warns(DeprecationWarning, match="deprecated"):
        config = PalindromeConfig(**old)
    assert config == PalindromeConfig(**new)


def test_old_and_new_name_together_is_a_type_error():
    with pytest.raises(TypeError, match="num_hidden"):
        PalindromeConfig(num_hidden=3, hidden_size=4)
