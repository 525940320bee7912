"""The experiments: resumable parallel sweep, optimizer comparison, gradients over time."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gnnhw.errors import ConfigError
from gnnhw.recurrent import experiments
from gnnhw.recurrent.experiments import (
    compare_optimizers,
    decay_per_step,
    gradient_norms,
    gradients_over_time,
    run_sweep,
)
from gnnhw.recurrent.models import LSTM, VanillaRNN
from gnnhw.recurrent.train import PalindromeConfig


def _base(**fields) -> PalindromeConfig:
    defaults = dict(hidden_size=8, batch_size=16, train_steps=3, test_size=50, log_every=1)
    defaults.update(fields)
    return PalindromeConfig(**defaults)


def test_sweep_records_every_job_and_summarizes(tmp_path):
    path = tmp_path / "sweep.json"
    result = run_sweep(_base(), ["rnn", "lstm"], [3, 4], 2, path, workers=1)
    assert len(result.records) == 8
    assert result.skipped == 0
    summary = result.summary()
    assert set(summary) == {"rnn", "lstm"}
    for model in summary:
        for length in (3, 4):
            accs = [r["test_accuracy"] for r in result.records if r["model"] == model and r["length"] == length]
            assert summary[model][length]["n"] == 2
            assert math.isclose(summary[model][length]["mean"], sum(accs) / 2)
    on_disk = json.loads(path.read_text())
    assert len(on_disk["records"]) == 8


def test_sweep_rerun_skips_finished_jobs(tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    run_sweep(_base(), ["rnn"], [3], 2, path, workers=1)
    ran = []
    real_job = experiments._run_job

    def counting_job(config):
        ran.append((config.model, config.length, config.seed))
        return real_job(config)

    monkeypatch.setattr(experiments, "_run_job", counting_job)
    result = run_sweep(_base(), ["rnn"], [3, 4], 2, path, workers=1, batch_seeds=False)  # one job per seed
    assert ran == [("rnn", 4, 0), ("rnn", 4, 1)]
    assert result.skipped == 2
    assert len(json.loads(path.read_text())["records"]) == 4


def test_sweep_keeps_finished_jobs_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    real_job = experiments._run_job
    calls = []

    def failing_second(config):
        calls.append(config)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_job(config)

    monkeypatch.setattr(experiments, "_run_job", failing_second)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_base(), ["rnn"], [3], 3, path, workers=1, batch_seeds=False)  # one job per seed
    assert len(json.loads(path.read_text())["records"]) == 1


def test_sweep_refuses_to_resume_with_other_settings(tmp_path):
    path = tmp_path / "sweep.json"
    run_sweep(_base(), ["rnn"], [3], 1, path, workers=1)
    with pytest.raises(ConfigError, match=r"other settings \(lr\)"):
        run_sweep(_base(lr=0.5), ["rnn"], [3], 1, path, workers=1)
    path.write_text("not json")
    with pytest.raises(ConfigError, match="not a readable JSON"):
        run_sweep(_base(), ["rnn"], [3], 1, path, workers=1)


def test_sweep_seeds_is_a_count_from_the_configs_seed(tmp_path):
    result = run_sweep(_base(seed=5), ["rnn"], [3], 2, tmp_path / "s.json", workers=1)
    assert [r["seed"] for r in result.records] == [5, 6]


def test_sweep_seeds_as_a_list_still_works_with_a_deprecation_warning(tmp_path):
    with pytest.warns(DeprecationWarning, match="a count"):
        result = run_sweep(_base(), ["rnn"], [3], [4, 9], tmp_path / "s.json", workers=1)
    assert [r["seed"] for r in result.records] == [4, 9]


def test_sweep_resumes_from_a_file_written_with_the_old_field_names(tmp_path):
    import dataclasses

    path = tmp_path / "sweep.json"
    run_sweep(_base(), ["rnn"], [3], 1, path, workers=1)
    data = json.loads(path.read_text())
    base = data["base"]
    for old, new in (("num_hidden", "hidden_size"), ("learning_rate", "lr"), ("input_dim", "input_size")):
        base[old] = base.pop(new)
    base.pop("impl")
    base["backend"] = "gnnhw"  # the old name and value of impl="scratch"
    path.write_text(json.dumps(data))
    result = run_sweep(_base(), ["rnn"], [3], 2, path, workers=1)
    assert result.skipped == 1
    assert [r["seed"] for r in result.records] == [0, 1]
    assert json.loads(path.read_text())["base"] == {
        k: v for k, v in dataclasses.asdict(_base()).items() if k not in ("model", "length", "seed", "device")
    }


def test_sweep_in_worker_processes_equals_in_process(tmp_path):
    serial = run_sweep(_base(), ["rnn", "lstm"], [3], 1, tmp_path / "a.json", workers=1)
    parallel = run_sweep(_base(), ["rnn", "lstm"], [3], 1, tmp_path / "b.json", workers=2)
    for a, b in zip(serial.records, parallel.records, strict=True):
        assert a["model"] == b["model"]
        assert a["length"] == b["length"]
        assert a["seed"] == b["seed"]
        assert a["test_accuracy"] == b["test_accuracy"]


def test_sweep_bad_input(tmp_path):
    with pytest.raises(ConfigError, match=r"length must be in \[2, 10000\]"):
        run_sweep(_base(), ["rnn"], [1], 1, tmp_path / "s.json", workers=1)
    with pytest.raises(ConfigError, match="unknown model"):
        run_sweep(_base(), ["gru"], [3], 1, tmp_path / "s.json", workers=1)
    with pytest.raises(ConfigError, match="workers"):
        run_sweep(_base(), ["rnn"], [3], 1, tmp_path / "s.json", workers=0)


def test_compare_optimizers_returns_a_curve_per_optimizer():
    runs = compare_optimizers(_base(train_steps=4), ["sgd", "adam"])
    assert list(runs) == ["sgd", "adam"]
    for run in runs.values():
        assert run["curve_steps"] == [1, 2, 3, 4]
        assert len(run["train_loss"]) == 4
    assert runs["sgd"]["train_loss"][0] == runs["adam"]["train_loss"][0]  # same weights, same first batch
    with pytest.raises(ConfigError, match="unknown optimizer"):
        compare_optimizers(_base(), ["adagrad"])


@pytest.mark.parametrize("model_class", [VanillaRNN, LSTM])
def test_gradient_norms_equal_retain_grad(model_class):
    torch.manual_seed(0)
    model = model_class(10, 6, 10)
    x, y = torch.randn(1, 9, 10), torch.tensor([4])
    norms = gradient_norms(model, x, y)
    logits, states = model.forward_with_states(x)
    for h in states:
        h.retain_grad()
    torch.nn.functional.cross_entropy(logits, y).backward()
    assert norms == pytest.approx([float(h.grad.norm()) for h in states], rel=1e-6)
    assert len(norms) == 9


def test_gradients_over_time_for_both_models():
    result = gradients_over_time(_base(length=12, train_steps=2))
    for stage in (result.untrained, result.trained):
        assert set(stage) == {"rnn", "lstm"}
        assert [len(norms) for norms in stage.values()] == [11, 11]
    assert result.untrained["rnn"] != result.trained["rnn"]
    assert result.training["lstm"]["steps"] == 2


def test_decay_per_step_recovers_a_geometric_factor():
    norms = [0.5 ** (20 - t) for t in range(20)]  # grows by 2 towards the end: shrinks by 2 per step back
    assert decay_per_step(norms, last=10) == pytest.approx(2.0)
    assert decay_per_step([1.0] * 5) == pytest.approx(1.0)
