"""Regression tests of issue 10 for textgen: ranges, checkpoints as untrusted input, non-finite numbers,
options that do not apply, text encodings and pipes, and a sample that streams with a bounded length."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from gnnhw.cli import main
from gnnhw.errors import CheckpointError, DivergedError, NonFiniteError
from gnnhw.recurrent import sampling
from gnnhw.recurrent.text import TextFileError, read_text
from gnnhw.recurrent.train_text import (
    TextTrainConfig,
    evaluate_text,
    load_checkpoint,
    model_from_checkpoint,
    train_text,
)
from tests.diverging import PoisonedAdam

TEXT = "once upon a time there was a king. the king had a daughter. " * 30
TINY = ["--seq-length", "10", "--batch-size", "8", "--hidden-size", "16", "--eval-every", "3", "--quiet"]


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("book") / "book.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, book) -> Path:
    out = tmp_path_factory.mktemp("run")  # the library, not the CLI: no figure to draw
    config = TextTrainConfig(steps=4, seq_length=10, batch_size=8, hidden_size=16, eval_every=3)
    return train_text(book, config, out_dir=out).checkpoint


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert "weights_only" not in err
    return err


def _edited(trained: Path, tmp_path: Path, edit) -> Path:
    ckpt = torch.load(trained, weights_only=True)
    edit(ckpt)
    path = tmp_path / "edited.pt"
    torch.save(ckpt, path)
    return path


# ------------------------------------------------------------------------------------------------ ranges


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", str(2**64)], "seed must be in [0, 4294967295]"),
        (["--seed", str(2**32)], "seed must be in [0, 4294967295]"),
        (["--lr", "1e300"], "lr must be in (0, 10]"),
        (["--hidden-size", "1000000000"], "hidden_size must be in [1, 65536]"),
        (["--num-layers", "100000"], "num_layers must be in [1, 100]"),
        (["--hidden-size", "65536", "--num-layers", "100"], "needs about"),
        (["--dropout", "nan"], "dropout must be a finite number"),
        (["--max-norm", "inf"], "max_norm must be a finite number"),
        (["--sample-at", "0,5"], "sample_at[0] must be in [1, "),
        # options that would be silently without effect, or repeated
        (["--dropout", "0.5", "--num-layers", "1"], "--dropout 0.5 acts between LSTM layers, and --num-layers 1"),
        (["--lr-decay-every", "10"], "--lr-decay-every applies only with a --lr-decay below 1"),
        (["--sample-length", "10"], "--sample-length applies only to logged samples"),
        (["--sample-at", "3,7,3"], "--sample-at repeats 3"),
        (["--steps", "10", "--sample-at", "11"], "--sample-at 11 is past --steps 10, so it is never reached"),
    ],
)
def test_train_refuses_out_of_range_values_before_reading_the_text(capsys, tmp_path, argv, message):
    missing = tmp_path / "no-such-text.txt"  # never read: the config is refused first
    code = main(["textgen", "train", "--text", str(missing), "--out", str(tmp_path / "o"), "--quiet", *argv])
    assert code == 2
    assert message in _one_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", str(2**64)], "seed must be in [0, 4294967295]"),
        (["--length", "1000001"], "length must be in [0, 1000000]"),
        (["--temperature", "1e-300"], "temperature must be in [1e-06, 1e+06]"),
        (["--temperature", "nan"], "temperature must be a finite number"),
        (["--top-k", "3", "--greedy"], "--top-k applies only to sampling with --temperature, not to greedy"),
        (["--top-k", "3"], "--top-k applies only to sampling with --temperature, not to greedy"),
        (["--top-k", "3", "--beam", "2"], "--top-k applies only to sampling with --temperature, not to --beam"),
    ],
)
def test_sample_refuses_bad_or_inapplicable_options_before_loading(capsys, tmp_path, argv, message):
    code = main(["textgen", "sample", "--checkpoint", str(tmp_path / "never-read.pt"), *argv])
    assert code == 2
    assert message in _one_line(capsys)


def test_top_k_with_temperature_is_used(trained, capsys):
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--temperature", "1", "--top-k", "1"]) == 0
    top1 = capsys.readouterr().out
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--greedy"]) == 0
    assert top1 == capsys.readouterr().out  # top-1 sampling is greedy decoding


def test_library_refuses_top_k_with_greedy(trained):
    model, vocab = model_from_checkpoint(trained)
    with pytest.raises(Exception, match="top_k applies only to sampling at a temperature"):
        sampling.sample(model, vocab, 5, greedy=True, top_k=2)


# ------------------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(config="hidden_size=16"), "config must be a mapping, got str"),
        (lambda c: c["config"].update(hidden_size="abc"), "config.hidden_size must be an integer, got str 'abc'"),
        (lambda c: c["config"].update(lr=math.nan), "config.lr must be a finite number"),
        (lambda c: c["config"].update(num_layers=10**9), "config.num_layers must be in [1, 100]"),
        (lambda c: c["config"].update(hidden_size=True), "config.hidden_size must be an integer, got bool"),
        (lambda c: c.pop("step"), "lacks the required key(s) step"),
        (lambda c: c.update(step=-3), "step must be >= 0"),
        (lambda c: c.update(step=10**30), "step must be <= 1e+08"),
        (lambda c: c.update(vocab=5), "vocab must be a string, got int 5"),
        (lambda c: c.update(version=99), "has format version 99; this gnnhw reads version(s) 1"),
        (lambda c: c["model"]["head.weight"].fill_(math.nan), "model.head.weight holds"),
        (lambda c: c["model"].update({"head.bias": "x"}), "model.head.bias must be a tensor"),
        (lambda c: c["rng"].update(batches=torch.zeros(3)), "rng.batches must be a uint8 tensor"),
        # consistency across fields: a ragged history crashed the curves figure after a resumed run
        (lambda c: c["history"].update(step=[1, 2, 3]), "history columns have different lengths (step 3"),
        (lambda c: c["history"].pop("val_acc"), "history lacks the column(s) val_acc"),
        (lambda c: c.update(samples=[["x", 5]]), "samples[0] must be a [step, text] pair"),
    ],
)
def test_a_checkpoint_with_a_bad_field_is_refused_naming_file_and_field(trained, tmp_path, edit, message):
    path = _edited(trained, tmp_path, edit)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert message in str(err.value)
    assert "edited.pt" in str(err.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda o: o["state"][0].update(exp_avg=torch.zeros(2)), r"state exp_avg of parameter 0 .* has shape \(2,\)"),
        (lambda o: o["state"][1]["exp_avg_sq"].fill_(math.inf), "state exp_avg_sq of parameter 1 .* NaN or infinity"),
        (lambda o: o["state"][2].update(step=torch.tensor(math.nan)), "state step of parameter 2 .* finite count"),
        (lambda o: o["param_groups"][0].update(eps=math.nan), r"param_groups\[0\]\.eps is not finite"),
    ],
    ids=["shape", "inf-moment", "nan-step", "nan-eps"],
)
def test_a_resume_from_a_bad_optimizer_state_is_refused_before_training(trained, book, tmp_path, edit, message):
    # torch checks only the number of parameters: a wrong shape failed inside Adam's step with a traceback
    out = tmp_path / "run"
    out.mkdir()
    ckpt = torch.load(trained, weights_only=True)
    edit(ckpt["optimizer"])
    torch.save(ckpt, out / "checkpoint.pt")
    config = TextTrainConfig(steps=6, seq_length=10, batch_size=8, hidden_size=16, eval_every=3)
    with pytest.raises(CheckpointError, match=message):
        train_text(book, config, out_dir=out, resume=True)


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_cli_on_a_checkpoint_with_nan_weights_is_one_line_exit_2_and_no_text(trained, tmp_path, capsys, command, book):
    path = _edited(trained, tmp_path, lambda c: [t.fill_(math.nan) for t in c["model"].values()])
    argv = ["textgen", command, "--checkpoint", str(path)] + (["--text", str(book)] if command == "evaluate" else [])
    assert main(argv) == 2
    assert capsys.readouterr().out == ""


def test_random_bytes_as_checkpoint_never_suggest_weights_only_false(tmp_path, capsys):
    path = tmp_path / "random.pt"
    path.write_bytes(os.urandom(4096))
    assert main(["textgen", "sample", "--checkpoint", str(path)]) == 2
    assert "random.pt" in _one_line(capsys)


# ------------------------------------------------------------------------------------- non-finite numbers


def test_greedy_sampling_from_nan_weights_raises_and_yields_nothing(trained):
    model, vocab = model_from_checkpoint(trained)
    with torch.no_grad():
        model.head.bias.fill_(math.nan)
    chunks = sampling.iter_sample(model, vocab, 10, prompt="the", greedy=True)
    with pytest.raises(NonFiniteError, match="not finite"):
        next(chunks)
    with pytest.raises(NonFiniteError):
        sampling.beam_search(model, vocab, 5, prompt="the", beam_width=2)


def _overflowing(trained, tmp_path):
    """Finite weights whose outputs overflow float32: passes the load check, fails on use."""

    def edit(ckpt):
        for name, tensor in ckpt["model"].items():
            if "bias" in name and not name.startswith("head"):
                tensor.fill_(100.0)  # every gate saturates: h = tanh(c) > 0.7 in every unit
        ckpt["model"]["head.weight"].fill_(3e38)  # 3e38 * sum(h) overflows float32 to inf

    return _edited(trained, tmp_path, edit)


def test_evaluate_with_a_non_finite_loss_is_an_error_not_a_number(trained, tmp_path, book, capsys):
    path = _overflowing(trained, tmp_path)
    model, vocab = model_from_checkpoint(path)
    with pytest.raises(NonFiniteError, match="loss on this text is nan"):
        evaluate_text(model, vocab, TEXT, 10)
    assert main(["textgen", "evaluate", "--checkpoint", str(path), "--text", str(book)]) == 2
    assert "not finite" in _one_line(capsys)
    assert main(["textgen", "evaluate", "--checkpoint", str(path), "--text", str(book), "--stateful"]) == 2


@pytest.fixture
def diverging(monkeypatch):
    monkeypatch.setattr(torch.optim, "Adam", PoisonedAdam)


def _config(**fields):
    return TextTrainConfig(seq_length=10, batch_size=8, hidden_size=16, eval_every=100, **fields)


def test_a_diverged_run_without_checkpoint_does_not_claim_one_is_kept(diverging, book, tmp_path):
    with pytest.raises(DivergedError, match="diverged at step 4: the loss is nan") as err:
        train_text(book, _config(steps=10, checkpoint_every=0), out_dir=tmp_path)
    assert "kept" not in str(err.value)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_a_diverged_run_keeps_and_names_its_last_good_checkpoint(diverging, book, tmp_path):
    with pytest.raises(DivergedError, match=r"the last good checkpoint '.*checkpoint\.pt' is kept"):
        train_text(book, _config(steps=10, checkpoint_every=1), out_dir=tmp_path)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 2  # the good one, weights finite


def test_cli_train_that_diverges_is_one_line_exit_2_without_results(diverging, book, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["textgen", "train", "--text", str(book), "--steps", "10", "--out", str(out), *TINY]) == 2
    err = _one_line(capsys)
    assert "diverged at step 4" in err
    assert "kept" not in err
    assert not (out / "history.json").exists()


# ------------------------------------------------------------------------------------- text encodings


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE"), ("utf-32-le", "UTF-32LE"), ("utf-32-be", "UTF-32BE")],
)
def test_text_in_utf16_or_utf32_without_bom_is_refused_with_the_fix(tmp_path, encoding, name):
    path = tmp_path / "wide.txt"
    path.write_bytes(TEXT.encode(encoding))
    with pytest.raises(TextFileError, match=f"NUL byte.*looks like {name} without a byte order mark.*iconv -f {name}"):
        read_text(path)


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_text_in_utf16_or_utf32_with_bom_is_refused_with_the_fix(tmp_path, encoding, name):
    path = tmp_path / "wide.txt"
    path.write_bytes(TEXT.encode(encoding))  # Python writes the byte order mark
    with pytest.raises(TextFileError, match=f"is {name} .*iconv -f {name} -t UTF-8"):
        read_text(path)


def test_cli_train_on_utf16_without_bom_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "wide.txt"
    path.write_bytes(TEXT.encode("utf-16-le"))
    assert main(["textgen", "train", "--text", str(path), "--steps", "2", "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "UTF-16LE" in _one_line(capsys)
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_binary_data_with_nul_bytes_is_refused(tmp_path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"abc\x00\xff\x10" * 3)
    with pytest.raises(TextFileError, match="NUL byte"):
        read_text(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_read_like_a_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "w", encoding="utf-8") as f:
            f.write(TEXT)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert read_text(fifo) == TEXT
    finally:
        thread.join(timeout=10)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for <(...)")
def test_process_substitution_works_for_evaluate(trained, book):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = f'"{sys.executable}" -m gnnhw textgen evaluate --checkpoint "{trained}" --text <(cat "{book}")'
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "accuracy" in proc.stdout


def test_a_closed_process_substitution_says_so(tmp_path):
    with pytest.raises(TextFileError, match=r"does not exist \(a process substitution"):
        read_text("/dev/fd/987654")


# -------------------------------------------------------------------------------------------- streaming


def test_iter_sample_yields_the_prompt_then_one_character_at_a_time(trained):
    model, vocab = model_from_checkpoint(trained)
    chunks = list(sampling.iter_sample(model, vocab, 20, prompt="the", temperature=1.0, seed=3))
    assert chunks[0] == "the"
    assert len(chunks) == 21
    assert all(len(c) == 1 for c in chunks[1:])
    assert "".join(chunks) == sampling.sample(model, vocab, 20, prompt="the", temperature=1.0, seed=3)


class _RecordingStdout:
    def __init__(self):
        self.text, self.flushed_at = "", []

    def write(self, s):
        self.text += s

    def flush(self):
        self.flushed_at.append(len(self.text))

    def fileno(self):
        return 1


def test_cli_sample_writes_its_text_while_generating(trained, monkeypatch):
    out = _RecordingStdout()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--length", "1000", "--prompt", "the"]) == 0
    assert len(out.text) == 3 + 1000 + 1
    assert len([n for n in out.flushed_at if n < 1000]) >= 3  # flushed in pieces, not once at the end


def test_cli_sample_shows_progress_for_long_lengths(trained, capsys, monkeypatch):
    from gnnhw.cli import textgen

    monkeypatch.setattr(textgen, "_PROGRESS_FROM", 100)
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--length", "300"]) == 0
    assert "sample" in capsys.readouterr().err
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--length", "300", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["textgen", "sample", "--checkpoint", str(trained), "--length", "300", "--beam", "2"]) == 0
    assert "sample" in capsys.readouterr().err


def test_sample_length_cap_is_documented_and_enforced():
    assert sampling.MAX_SAMPLE_LENGTH == 1_000_000
    assert "1,000,000" in (Path(sampling.__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    with pytest.raises(Exception, match=r"length must be in \[0, 1000000\]"):
        sampling.check_sample_options(sampling.MAX_SAMPLE_LENGTH + 1)


# ------------------------------------------------------------------------------ library errors (item 7)


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (torch.tensor([[0, 1, 99]]), "ConfigError", r"holds the id 99, outside \[0, 5\)"),
        (torch.tensor([[-1, 1]]), "ConfigError", r"holds the id -1, outside \[0, 5\)"),
        (torch.tensor([[0.0, 1.0]]), "ShapeError", "must hold integer ids"),
        (torch.tensor([[True, False]]), "ShapeError", "must hold integer ids"),
        (torch.zeros(1, 2, dtype=torch.long, device="meta"), "ConfigError", "is on meta but the model is on cpu"),
    ],
)
def test_text_model_refuses_bad_ids_with_a_gnnhw_error(x, error, message):
    from gnnhw import errors
    from gnnhw.recurrent.models import TextGenerationModel

    model = TextGenerationModel(5, 4, 1)
    with pytest.raises(getattr(errors, error), match=message):
        model(x)


def test_vocabulary_decode_refuses_ids_outside_it():
    from gnnhw.errors import ConfigError
    from gnnhw.recurrent.text import Vocabulary

    vocab = Vocabulary.from_text("abc")
    assert vocab.decode([2, 0]) == "ca"
    with pytest.raises(ConfigError, match=r"id 3 is not in the vocabulary's range \[0, 3\)"):
        vocab.decode(torch.tensor([0, 3]))
    with pytest.raises(ConfigError, match=r"id -1"):
        vocab.decode([-1])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_checkpoint_from_a_fifo_is_read(trained, tmp_path):
    fifo = tmp_path / "ckpt-pipe"
    os.mkfifo(fifo)
    data = trained.read_bytes()

    def writer():
        with open(fifo, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert load_checkpoint(fifo)["step"] == 4
    finally:
        thread.join(timeout=10)


def test_an_absurd_thread_count_is_refused(book, tmp_path, capsys):
    argv = ["textgen", "train", "--text", str(book), "--out", str(tmp_path / "o"), "--threads", str(10**9)]
    assert main([*argv, "--quiet"]) == 2
    assert "--threads must be in [1, 1024]" in _one_line(capsys)


@pytest.mark.parametrize("mode", [["--greedy"], [], ["--beam", "2"]])
def test_seed_that_cannot_matter_is_refused(trained, capsys, mode):
    argv = ["textgen", "sample", "--checkpoint", str(trained), "--prompt", "the", "--seed", "3", *mode]
    assert main(argv) == 2
    assert "--seed has no effect with" in _one_line(capsys)


def test_seed_with_temperature_or_without_prompt_is_used(trained, capsys):
    base = ["textgen", "sample", "--checkpoint", str(trained), "--length", "30"]
    assert main([*base, "--temperature", "2", "--seed", "1", "--prompt", "the"]) == 0
    assert main([*base, "--greedy", "--seed", "1"]) == 0
