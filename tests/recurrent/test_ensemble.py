"""Seeds trained together (gnnhw.recurrent.ensemble.train_seeds) equal seeds trained one by one."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.recurrent import experiments
from gnnhw.recurrent.ensemble import _clip_per_seed, train_seeds
from gnnhw.recurrent.experiments import run_sweep
from gnnhw.recurrent.train import PalindromeConfig, train

TOL = 1e-12  # float64


@pytest.fixture
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _group(seeds=(0, 1, 2), **fields) -> list[PalindromeConfig]:
    # early stop at a low accuracy over a short window: the seeds stop at different steps
    defaults = dict(
        length=5,
        hidden_size=12,
        batch_size=24,
        train_steps=40,
        test_size=300,
        early_stop_accuracy=0.3,
        early_stop_window=4,
        log_every=7,
        max_norm=0.5,  # below the gradients' norm at the start: clipping is active
        lr=0.01,
    )
    defaults.update(fields)
    return [PalindromeConfig(seed=s, **defaults) for s in seeds]


@pytest.mark.parametrize(
    ("model", "optimizer"), [("rnn", "adam"), ("lstm", "adam"), ("rnn", "sgd-momentum"), ("lstm", "rmsprop")]
)
def test_each_seed_equals_its_separate_run_in_float64(float64, model, optimizer):
    configs = _group(model=model, optimizer=optimizer, lr=0.3 if optimizer == "sgd-momentum" else 0.01)
    together = train_seeds(configs)
    alone = [train(config) for config in configs]
    assert len({r.steps for r in alone}) > 1  # the seeds stop at different steps (else the test proves less)
    for a, b in zip(alone, together, strict=True):
        assert b.steps == a.steps
        assert b.stopped_early == a.stopped_early
        assert b.curve_steps == a.curve_steps
        assert b.train_accuracy == a.train_accuracy
        assert max(abs(x - y) for x, y in zip(a.train_loss, b.train_loss, strict=True)) <= TOL
        assert b.test_accuracy == a.test_accuracy
        for (name, p), q in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
            assert p.dtype == q.dtype == torch.float64, name
            assert float((p - q).detach().abs().max()) <= TOL, name


def test_seeds_that_never_stop_early_run_every_step(float64):
    configs = _group(seeds=(3, 5), early_stop_accuracy=None, train_steps=9, log_every=4)
    together = train_seeds(configs)
    alone = [train(config) for config in configs]
    for a, b in zip(alone, together, strict=True):
        assert b.steps == 9
        assert b.curve_steps == a.curve_steps == [4, 8, 9]
        assert max(abs(x - y) for x, y in zip(a.train_loss, b.train_loss, strict=True)) <= TOL


def test_clipping_is_per_seed_as_clip_grad_norm_on_each():
    torch.manual_seed(0)
    big = [torch.randn(4, 3) * 10, torch.randn(4) * 10]  # seed 0: norm far above max_norm
    small = [torch.randn(4, 3) * 1e-3, torch.randn(4) * 1e-3]  # seed 1: far below
    stacked = [torch.stack([b, s]) for b, s in zip(big, small, strict=True)]
    _clip_per_seed(stacked, max_norm=1.0)
    for row, grads in enumerate((big, small)):
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for p, s in zip(params, stacked, strict=True):
            torch.testing.assert_close(s[row], p.grad, rtol=1e-6, atol=0)
    torch.testing.assert_close(stacked[1][1], small[1], rtol=1e-6, atol=0)  # untouched by seed 0's norm


def test_configs_that_differ_in_more_than_the_seed_are_refused():
    a, b = _group(seeds=(0, 1))
    with pytest.raises(ConfigError, match="differ only in their seed"):
        train_seeds([a, dataclasses.replace(b, length=6)])
    with pytest.raises(ConfigError, match="distinct seeds"):
        train_seeds([a, a])
    with pytest.raises(ConfigError, match="at least one"):
        train_seeds([])


def test_torch_backend_trains_each_seed_as_train_does():
    configs = _group(seeds=(0, 1), impl="reference", train_steps=5, early_stop_accuracy=None)
    together = train_seeds(configs)
    for config, result in zip(configs, together, strict=True):
        assert result.train_loss == train(config).train_loss


def test_sweep_with_seeds_together_records_what_separate_jobs_record(float64, tmp_path):
    base = _group(seeds=(0,), train_steps=12)[0]
    kwargs = dict(models=["rnn", "lstm"], lengths=[4], seeds=[0, 1], workers=1)
    together = run_sweep(base, results_path=tmp_path / "a.json", **kwargs)
    alone = run_sweep(base, results_path=tmp_path / "b.json", batch_seeds=False, **kwargs)
    assert len(together.records) == 4
    for a, b in zip(alone.records, together.records, strict=True):
        for key in ("model", "length", "seed", "test_accuracy", "steps", "stopped_early", "final_train_accuracy"):
            assert a[key] == b[key], key


def test_sweep_rerun_trains_only_the_missing_seeds_together(tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    base = _group(seeds=(0,), train_steps=3, test_size=20)[0]
    run_sweep(base, ["rnn"], [3], [0], path, workers=1)
    groups = []
    real = experiments._run_seed_group

    def counting(configs):
        groups.append([(c.model, c.length, c.seed) for c in configs])
        return real(configs)

    monkeypatch.setattr(experiments, "_run_seed_group", counting)
    result = run_sweep(base, ["rnn"], [3, 4], [0, 1], path, workers=1)
    assert groups == [[("rnn", 3, 1)], [("rnn", 4, 0), ("rnn", 4, 1)]]
    assert result.skipped == 1
    assert len(json.loads(path.read_text())["records"]) == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_same_code_trains_all_seeds_on_one_gpu():
    configs = _group(seeds=(0, 1), device="cuda", train_steps=6, early_stop_accuracy=None)
    together = train_seeds(configs)
    for config, result in zip(configs, together, strict=True):
        assert next(result.model.parameters()).is_cuda
        alone = train(config)
        assert result.steps == alone.steps == 6
        for x, y in zip(alone.train_loss, result.train_loss, strict=True):
            assert abs(x - y) <= 1e-4  # float32 on the GPU: batched and single products round differently
