"""What the text-training tests share: a small text, a tiny config, and the check that two runs are the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gnnhw.recurrent.config import TextTrainConfig
from gnnhw.recurrent.text import TextDataset
from gnnhw.recurrent.train_text import CHECKPOINT_NAME, load_checkpoint, train_text

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40  # 1920 characters, easy to learn


def tiny_config(**overrides) -> TextTrainConfig:
    """A config small enough for a test: seq 10, batch 8, 2 x 16 units, dropout 0.2, 12 steps."""
    values = dict(
        steps=12, seq_length=10, batch_size=8, hidden_size=16, num_layers=2, dropout=0.2,
        eval_every=4, checkpoint_every=0, max_val_windows=8, seed=3,
    )  # fmt: skip
    values.update(overrides)
    return TextTrainConfig(**values)


def tiny_data(config: TextTrainConfig) -> TextDataset:
    return TextDataset(TEXT, config.seq_length, config.val_fraction)


def assert_same_run(a: dict, b: dict) -> None:
    """Two checkpoints of one run: the same weights, optimizer state, step, curves (wall time aside), RNG states
    and, with sequential batching, the same stream position and carried state, bit for bit."""
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    opt_a, opt_b = a["optimizer"]["state"], b["optimizer"]["state"]
    for i in opt_a:
        for k in opt_a[i]:
            assert torch.equal(opt_a[i][k], opt_b[i][k]), (i, k)
    assert a["step"] == b["step"]
    for key in a["history"]:  # the same curves, wall time aside
        if key != "elapsed_s":
            assert a["history"][key] == b["history"][key], key
    assert torch.equal(a["rng"]["batches"], b["rng"]["batches"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert ("stream" in a) == ("stream" in b)
    if "stream" in a:
        assert a["stream"]["position"] == b["stream"]["position"]
        assert ("state" in a["stream"]) == ("state" in b["stream"])
        for s, t in zip(a["stream"].get("state", []), b["stream"].get("state", []), strict=True):
            assert torch.equal(s, t)


def interrupted_and_resumed(config: TextTrainConfig, folder: Path, at: int) -> tuple[dict, dict, dict]:
    """Train ``config`` straight through (in ``folder/straight``), and again (in ``folder/cut``) stopped by a
    KeyboardInterrupt at step ``at`` and resumed to the end; return the checkpoints: the straight run's, the
    one written on the interrupt, and the resumed run's."""

    def interrupt(step: int) -> None:
        if step == at:
            raise KeyboardInterrupt

    train_text(tiny_data(config), config, out_dir=folder / "straight")
    with pytest.raises(KeyboardInterrupt):
        train_text(tiny_data(config), config, out_dir=folder / "cut", on_step=interrupt)
    on_interrupt = load_checkpoint(folder / "cut" / CHECKPOINT_NAME)
    train_text(tiny_data(config), config, out_dir=folder / "cut", resume=True)
    return (
        load_checkpoint(folder / "straight" / CHECKPOINT_NAME),
        on_interrupt,
        load_checkpoint(folder / "cut" / CHECKPOINT_NAME),
    )
