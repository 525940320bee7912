"""Training loop, checkpoints (atomic, weights_only-loadable) and exact resume after an interruption."""

from __future__ import annotations

import errno
import os
import signal

import pytest
import torch

import gnnhw._utils
from gnnhw.errors import CheckpointError, ConfigError, OutputError
from gnnhw.recurrent.text import TextDataset
from gnnhw.recurrent.train_text import (
    CHECKPOINT_NAME,
    TextTrainConfig,
    evaluate_text,
    load_checkpoint,
    model_from_checkpoint,
    resume_conflicts,
    train_text,
)
from gnnhw.runs import RunStopped
from tests.recurrent._textgen_runs import TEXT, assert_same_run, interrupted_and_resumed, tiny_config, tiny_data

_config, _data, _assert_same_run = tiny_config, tiny_data, assert_same_run


def test_training_lowers_the_loss():
    config = _config(steps=60, dropout=0.0, lr=1e-2, eval_every=20)
    result = train_text(_data(config), config)
    h = result.history
    assert h["step"] == [20.0, 40.0, 60.0]
    assert h["val_loss"][-1] < h["val_loss"][0] < 3.2  # log(16 characters) = 2.77 at chance
    assert h["train_acc"][-1] > 0.35  # the likeliest single character, " ", is 25% of the text
    assert result.val_loss == pytest.approx(h["val_loss"][-1])


def test_learning_rate_decays_in_steps():
    config = _config(lr=1e-2, lr_decay=0.5, lr_decay_every=10)
    assert [config.lr_at(s) for s in (0, 9, 10, 25)] == [1e-2, 1e-2, 5e-3, 2.5e-3]


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_model(tmp_path):
    config = _config(checkpoint_every=5)
    result = train_text(_data(config), config, out_dir=tmp_path)
    ckpt = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert ckpt["step"] == 12
    assert ckpt["vocab"] == result.vocab.to_string()
    assert ckpt["config"]["hidden_size"] == 16
    model, vocab = model_from_checkpoint(tmp_path / CHECKPOINT_NAME)
    x = vocab.encode("the cat sat")[None]
    torch.testing.assert_close(model(x)[0], result.model(x)[0], atol=0, rtol=0)


@pytest.mark.parametrize("impl", ["reference", "scratch"])
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path, impl):
    straight, on_interrupt, resumed = interrupted_and_resumed(_config(impl=impl), tmp_path, at=5)
    assert on_interrupt["step"] == 5  # written on the interrupt
    _assert_same_run(straight, resumed)


def test_should_stop_finishes_the_step_writes_a_checkpoint_and_resumes_exactly(tmp_path):
    config = _config()
    train_text(_data(config), config, out_dir=tmp_path / "straight")
    steps_done = []

    def stop_after_7() -> bool:  # what the CLI passes: its SIGINT/SIGTERM flag
        return len(steps_done) >= 7

    with pytest.raises(RunStopped) as stopped:
        train_text(_data(config), config, out_dir=tmp_path / "cut", on_step=steps_done.append, should_stop=stop_after_7)
    assert stopped.value.step == 7
    assert stopped.value.checkpoint == tmp_path / "cut" / CHECKPOINT_NAME
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)["step"] == 7
    train_text(_data(config), config, out_dir=tmp_path / "cut", resume=True)
    _assert_same_run(
        load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME), load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    )


def test_the_library_installs_no_signal_handler(tmp_path):
    seen = []
    config = _config(steps=3)
    train_text(_data(config), config, on_step=lambda step: seen.append(signal.getsignal(signal.SIGINT)))
    assert seen == [signal.default_int_handler] * 3


def test_an_interrupt_inside_an_optimizer_update_saves_nothing_of_that_step(tmp_path, monkeypatch):
    # A KeyboardInterrupt can cut Adam's update of the parameters half-way (the bug of issue 9: a checkpoint
    # saying step k with some tensors at k + 1). Such a step is never saved: the last whole checkpoint stays.
    config = _config(checkpoint_every=4)
    train_text(_data(config), config, out_dir=tmp_path / "straight")
    real_step = torch.optim.Adam.step
    calls = []

    def step_cut_halfway(self, closure=None):
        calls.append(1)
        if len(calls) == 7:  # update one tensor of step 7, then the interrupt arrives
            with torch.no_grad():
                self.param_groups[0]["params"][0].add_(1.0)
            raise KeyboardInterrupt
        return real_step(self, closure)

    monkeypatch.setattr(torch.optim.Adam, "step", step_cut_halfway)
    with pytest.raises(KeyboardInterrupt):
        train_text(_data(config), config, out_dir=tmp_path / "cut")
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)["step"] == 4  # not step 6 with half of step 7 applied
    train_text(_data(config), config, out_dir=tmp_path / "cut", resume=True)
    _assert_same_run(
        load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME), load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    )


def test_resume_at_or_past_the_goal_trains_nothing_and_rewrites_nothing(tmp_path):
    config = _config(steps=6)
    train_text(_data(config), config, out_dir=tmp_path)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    for steps in (6, 3):
        result = train_text(_data(config), _config(steps=steps), out_dir=tmp_path, resume=True)
        assert result.step == result.start_step == 6
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before


def test_resume_conflicts_name_each_changed_setting():
    saved = _config(hidden_size=16, lr=2e-3)
    wanted = {"hidden_size": 64, "lr": 1e-2, "steps": 99, "seed": saved.seed}
    assert resume_conflicts(saved, wanted) == [
        "hidden_size 64 (checkpoint: 16)",
        "lr 0.01 (checkpoint: 0.002)",
    ]


def test_resuming_with_more_steps_continues_the_same_run(tmp_path):
    config = _config()
    train_text(_data(config), config, out_dir=tmp_path / "straight")
    train_text(_data(config), _config(steps=6), out_dir=tmp_path / "two")
    train_text(_data(config), config, out_dir=tmp_path / "two", resume=True)
    _assert_same_run(
        load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME), load_checkpoint(tmp_path / "two" / CHECKPOINT_NAME)
    )


def test_an_existing_checkpoint_is_not_overwritten_without_resume(tmp_path):
    config = _config(steps=2)
    train_text(_data(config), config, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        train_text(_data(config), config, out_dir=tmp_path)


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    config = _config(steps=4)
    train_text(_data(config), config, out_dir=tmp_path)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()

    def disk_fills_up(fd, data):  # half the bytes land, then the disk is full
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(gnnhw._utils, "_write_all", disk_fills_up)
    with pytest.raises(OutputError, match=r"checkpoint\.pt.*No space left on device \(ENOSPC\)"):
        train_text(_data(config), _config(steps=8), out_dir=tmp_path, resume=True)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == 4
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temp file left behind


def test_resume_on_a_different_text_is_refused(tmp_path):
    config = _config(steps=2)
    train_text(_data(config), config, out_dir=tmp_path)
    other = TextDataset(TEXT.replace("cat", "cow"), config.seq_length, config.val_fraction)
    with pytest.raises(CheckpointError, match="different text"):
        train_text(other, config, out_dir=tmp_path, resume=True)


def test_resume_without_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        train_text(_data(_config()), _config(), out_dir=tmp_path, resume=True)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a checkpoint at all", b"PK\x03\x04truncated zip"],
    ids=["empty", "text", "truncated"],
)
def test_corrupt_checkpoints_raise_checkpoint_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_truncated_real_checkpoint_raises_checkpoint_error(tmp_path):
    config = _config(steps=2)
    train_text(_data(config), config, out_dir=tmp_path)
    data = (tmp_path / CHECKPOINT_NAME).read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "cut.pt")


def test_foreign_checkpoints_raise_checkpoint_error(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a gnnhw textgen checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save(TextTrainConfig(), tmp_path / "pickled.pt")  # a pickled class: refused by weights_only
    with pytest.raises(CheckpointError, match="corrupt or not a torch file"):
        load_checkpoint(tmp_path / "pickled.pt")


def test_bad_config_values_raise_config_error():
    with pytest.raises(ConfigError, match="seq_length"):
        TextTrainConfig(seq_length=0)
    with pytest.raises(ConfigError, match="lr"):
        TextTrainConfig(lr=-1.0)
    with pytest.raises(ConfigError, match="impl"):
        TextTrainConfig(impl="gru")


def test_evaluate_text_on_the_held_out_part_matches_the_runs_validation_numbers():
    config = _config(steps=4, max_val_windows=None)
    data = _data(config)
    result = train_text(data, config)
    held_out = TEXT[len(data.train_data) :]
    loss, acc, count = evaluate_text(result.model, result.vocab, held_out, config.seq_length)
    assert count == data.validation_windows()[1].numel()
    assert loss == pytest.approx(result.val_loss, rel=1e-6)
    assert acc == result.val_acc
    with pytest.raises(ConfigError, match="'Z'"):
        evaluate_text(result.model, result.vocab, "Z" * 40, config.seq_length)


def test_stateful_evaluation_equals_one_long_window():
    config = _config(steps=2)
    result = train_text(_data(config), config)
    text = TEXT[:41]
    one_window = evaluate_text(result.model, result.vocab, text, seq_length=40)
    stream = evaluate_text(result.model, result.vocab, text, seq_length=10, stateful=True)
    assert stream[2] == one_window[2] == 40
    assert stream[0] == pytest.approx(one_window[0], rel=1e-5)
    assert stream[1] == one_window[1]
