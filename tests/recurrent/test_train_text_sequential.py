"""Sequential (stateful, truncated-BPTT) batching, bits per character in the curves, and exact resume in
both batching modes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gnnhw.errors import CheckpointError, ConfigError
from gnnhw.recurrent.metrics import LN2
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.train_text import (
    CHECKPOINT_NAME,
    TextTrainConfig,
    evaluate_stream,
    evaluate_text,
    load_checkpoint,
    train_text,
)
from gnnhw.runs import RunStopped
from tests.recurrent._textgen_runs import TEXT, assert_same_run, interrupted_and_resumed, tiny_config, tiny_data

# B = 8 streams of L = 216 characters, T = 10: (216 - 1) // 10 = 21 batches per epoch
PER_EPOCH = 21


_config, _data = tiny_config, tiny_data


def test_streams_are_contiguous_parts_and_batches_continue_each_other():
    data = _data(_config())
    streams = data.streams(8)
    assert streams.shape == (8, 216)
    assert data.batches_per_epoch(8) == PER_EPOCH
    for b in range(8):  # row b is the b-th contiguous part of the training text
        assert torch.equal(streams[b], data.train_data[b * 216 : (b + 1) * 216])
    x0, y0 = data.stream_batch(streams, 0)
    x1, _ = data.stream_batch(streams, 1)
    assert x0.shape == y0.shape == (8, 10)
    assert torch.equal(y0[:, :-1], x0[:, 1:])  # the target is the input shifted by one character
    assert torch.equal(torch.cat([x0, x1], 1), streams[:, :20])  # batch 1 continues batch 0 in every row
    x_last, y_last = data.stream_batch(streams, PER_EPOCH - 1)
    assert x_last.shape == y_last.shape == (8, 10)  # the last batch of an epoch is whole
    with pytest.raises(ConfigError, match="sequential batching needs"):
        data.streams(200)  # 1728 // 200 = 8 characters per stream < T + 1


def test_random_batching_is_the_assignments_loop_bit_for_bit():
    # The default ("random") must train exactly as before sequential batching existed: a reference loop.
    config = _config(dropout=0.0, steps=5)
    assert config.batching == "random"
    data = _data(config)
    result = train_text(data, config)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = TextGenerationModel(len(data.vocab), 16, 2, 0.0, "reference")
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    for _ in range(config.steps):
        x, y = data.batch(config.batch_size, gen)
        loss = F.cross_entropy(model(x)[0].flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
        opt.step()
    for (name, a), b in zip(result.model.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_sequential_batching_reads_the_streams_and_carries_the_detached_state(monkeypatch):
    config = _config(batching="sequential", steps=PER_EPOCH + 2, dropout=0.0, eval_every=100)
    data = _data(config)
    streams = data.streams(config.batch_size)
    calls = []
    real_forward = TextGenerationModel.forward

    def recording_forward(self, x, state=None):
        logits, out = real_forward(self, x, state)
        if self.training:
            calls.append((x.clone(), state, (out[0].detach().clone(), out[1].detach().clone())))
        return logits, out

    monkeypatch.setattr(TextGenerationModel, "forward", recording_forward)
    train_text(data, config)
    assert len(calls) == config.steps
    for i, (x, state, _) in enumerate(calls):
        assert torch.equal(x, data.stream_batch(streams, i % PER_EPOCH)[0]), i
        if i % PER_EPOCH == 0:  # the start of an epoch: a zero state
            assert state is None, i
        else:  # the state the previous batch ended in, cut from its graph
            assert not state[0].requires_grad
            assert not state[1].requires_grad
            assert torch.equal(state[0], calls[i - 1][2][0]), i
            assert torch.equal(state[1], calls[i - 1][2][1]), i


@pytest.mark.parametrize(
    ("batching", "stop_after"),
    [("random", 7), ("sequential", 7), ("sequential", PER_EPOCH), ("sequential", PER_EPOCH + 3)],
    ids=["random", "sequential-mid-epoch", "sequential-at-epoch-end", "sequential-second-epoch"],
)
def test_stopped_and_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, batching, stop_after):
    config = _config(batching=batching, steps=PER_EPOCH + 6)
    train_text(_data(config), config, out_dir=tmp_path / "straight")
    steps_done = []
    with pytest.raises(RunStopped):
        train_text(
            _data(config),
            config,
            out_dir=tmp_path / "cut",
            on_step=steps_done.append,
            should_stop=lambda: len(steps_done) >= stop_after,
        )
    cut = load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    assert cut["step"] == stop_after
    if batching == "sequential":
        assert cut["stream"]["position"] == stop_after % PER_EPOCH
        assert ("state" in cut["stream"]) == (stop_after % PER_EPOCH != 0)
    else:
        assert "stream" not in cut
    train_text(_data(config), config, out_dir=tmp_path / "cut", resume=True)
    a = load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME)
    b = load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)
    assert_same_run(a, b)
    if batching == "sequential":
        assert a["stream"]["position"] == (PER_EPOCH + 6) % PER_EPOCH
        assert "state" in a["stream"]  # compared by assert_same_run


def test_a_sequential_checkpoint_with_a_bad_stream_position_is_refused(tmp_path):
    config = _config(batching="sequential", steps=3)
    train_text(_data(config), config, out_dir=tmp_path)
    ckpt = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    ckpt["stream"]["position"] = PER_EPOCH
    torch.save(ckpt, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError, match="stream position 21"):
        train_text(_data(config), _config(batching="sequential", steps=6), out_dir=tmp_path, resume=True)
    del ckpt["stream"]
    torch.save(ckpt, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError, match="no stream position"):
        train_text(_data(config), _config(batching="sequential", steps=6), out_dir=tmp_path, resume=True)


def test_unknown_batching_is_refused():
    with pytest.raises(ConfigError, match="batching"):
        TextTrainConfig(batching="shuffled")


def test_history_has_bits_per_character_beside_loss_and_accuracy():
    config = _config(dropout=0.0, max_val_windows=None)
    data = _data(config)
    result = train_text(data, config)
    h = result.history
    assert h["step"] == [4.0, 8.0, 12.0]
    for split in ("train", "val", "val_stream"):
        assert h[f"{split}_bpc"] == [loss / LN2 for loss in h[f"{split}_loss"]]
    # the held-out part read as one stream: every held-out character but the first, predicted once
    held_out = TEXT[len(data.train_data) :]
    stream_loss, stream_acc, _ = evaluate_text(result.model, result.vocab, held_out, 10, stateful=True)
    assert result.val_stream_loss == pytest.approx(stream_loss, rel=1e-6)
    assert result.val_stream_acc == stream_acc
    assert result.val_stream_loss == pytest.approx(h["val_stream_loss"][-1], rel=1e-12)
    assert result.val_bpc == result.val_loss / LN2
    assert result.val_stream_bpc == result.val_stream_loss / LN2


def test_evaluate_stream_is_one_long_forward_whatever_the_chunk_length():
    torch.manual_seed(0)
    model = TextGenerationModel(5, 8, 2).double().eval()
    data = torch.randint(0, 5, (50,))
    with torch.no_grad():
        logits, _ = model(data[None, :-1])
    nll = F.cross_entropy(logits[0], data[1:], reduction="mean").item()
    acc = (logits[0].argmax(-1) == data[1:]).double().mean().item()
    for chunk in (1, 7, 49, 1024):
        loss, accuracy = evaluate_stream(model, data, chunk_length=chunk)
        assert loss == pytest.approx(nll, rel=1e-12, abs=0), chunk
        assert accuracy == pytest.approx(acc, abs=1e-15), chunk
    assert all(math.isnan(v) for v in evaluate_stream(model, data[:1]))


def test_a_checkpoint_from_before_bits_per_character_resumes_with_nan_for_the_missing_points(tmp_path):
    config = _config(steps=4)
    train_text(_data(config), config, out_dir=tmp_path)
    ckpt = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    for key in ("train_bpc", "val_bpc", "val_stream_loss", "val_stream_acc", "val_stream_bpc"):
        del ckpt["history"][key]
    del ckpt["config"]["batching"], ckpt["config"]["strip_gutenberg"]
    torch.save(ckpt, tmp_path / CHECKPOINT_NAME)
    result = train_text(_data(config), _config(steps=8), out_dir=tmp_path, resume=True)
    assert result.config.batching == "random"
    assert result.config.strip_gutenberg
    h = result.history
    assert {len(v) for v in h.values()} == {2}
    assert math.isnan(h["val_stream_bpc"][0])
    assert math.isfinite(h["val_stream_bpc"][1])


def test_a_keyboard_interrupt_in_a_sequential_run_saves_the_stream_and_resumes_exactly(tmp_path):
    a, on_interrupt, b = interrupted_and_resumed(_config(batching="sequential", steps=9), tmp_path, at=5)
    assert on_interrupt["stream"]["position"] == 5
    assert_same_run(a, b)  # weights, optimizer, curves, RNGs, stream position and carried state
    assert "state" in a["stream"]
