"""Issue 11's renames (``cell`` -> ``impl``, ``learning_rate`` -> ``lr``) keep old work usable: checkpoints written
by the old code (version 1, config with ``cell``) load, sample, evaluate and resume bit for bit; the old library
keywords and the old ``--cell`` option still work, with a deprecation warning."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import torch

from gnnhw.cli import main
from gnnhw.recurrent.config import TextTrainConfig
from gnnhw.recurrent.models import TextGenerationModel
from gnnhw.recurrent.sampling import sample
from gnnhw.recurrent.text import TextDataset
from gnnhw.recurrent.text_checkpoint import CHECKPOINT_NAME, CHECKPOINT_VERSION, load_checkpoint, model_from_checkpoint
from gnnhw.recurrent.text_eval import evaluate_text
from gnnhw.recurrent.train_text import train_text

DATA = Path(__file__).parent / "data"
TEXT = "the cat sat on the mat. the dog sat on the log. " * 40  # the text the old checkpoints were trained on
OLD = {  # (file stem, today's impl, batching): see tests/recurrent/data/README.md
    "random_scratch": ("scratch", "random"),
    "sequential_torch": ("reference", "sequential"),
}


def _config(impl: str, batching: str, steps: int) -> TextTrainConfig:
    """The config of the old runs, in today's names."""
    return TextTrainConfig(
        steps=steps, seq_length=10, batch_size=8, hidden_size=8, num_layers=2, dropout=0.2, eval_every=2,
        checkpoint_every=0, max_val_windows=8, seed=3, lr=3e-3, impl=impl, batching=batching,
    )  # fmt: skip


def _data() -> TextDataset:
    return TextDataset(TEXT, 10, 0.1)


def _old_checkpoint(stem: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(DATA / f"textgen_v1_{stem}_step5.pt", folder / CHECKPOINT_NAME))


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("stem", sorted(OLD))
def test_an_old_checkpoint_is_version_1_with_the_old_names(stem):
    raw = torch.load(DATA / f"textgen_v1_{stem}_step5.pt", weights_only=True)
    assert raw["version"] == 1
    assert "cell" in raw["config"]
    assert "learning_rate" in raw["config"]
    assert "impl" not in raw["config"]


@pytest.mark.parametrize("stem", sorted(OLD))
def test_an_old_checkpoint_loads_under_todays_names(stem, tmp_path):
    ckpt = load_checkpoint(_old_checkpoint(stem, tmp_path))
    impl, batching = OLD[stem]
    config = TextTrainConfig.from_dict(ckpt["config"])
    assert config == _config(impl, batching, steps=5)
    assert "cell" not in ckpt["config"]
    assert "learning_rate" not in ckpt["config"]


@pytest.mark.parametrize("stem", sorted(OLD))
def test_an_old_checkpoint_samples_and_evaluates_as_its_weights_do(stem, tmp_path):
    path = _old_checkpoint(stem, tmp_path)
    model, vocab = model_from_checkpoint(path)
    assert model.impl == OLD[stem][0]
    raw = torch.load(path, weights_only=True)
    twin = TextGenerationModel(len(vocab), 8, 2, 0.2, OLD[stem][0])  # the same weights, built by hand
    twin.load_state_dict(raw["model"])
    twin.eval()
    assert sample(model, vocab, 40, prompt="the ", greedy=True) == sample(twin, vocab, 40, prompt="the ", greedy=True)
    assert sample(model, vocab, 40, temperature=0.7, seed=5) == sample(twin, vocab, 40, temperature=0.7, seed=5)
    held_out = TEXT[-192:]
    assert evaluate_text(model, vocab, held_out, 10) == evaluate_text(twin, vocab, held_out, 10)


@pytest.mark.parametrize("stem", sorted(OLD))
def test_an_old_checkpoint_resumes_to_the_old_codes_uninterrupted_weights(stem, tmp_path):
    impl, batching = OLD[stem]
    path = _old_checkpoint(stem, tmp_path / "old")
    resumed = train_text(_data(), _config(impl, batching, steps=9), out_dir=path.parent, resume=True)
    assert resumed.start_step == 5
    # the old code trained the same run to step 9 without interruption: the same weights, bit for bit
    old_straight = torch.load(DATA / f"textgen_v1_{stem}_step9_model.pt", weights_only=True)
    _assert_same_weights(resumed.model.state_dict(), old_straight)
    # and today's code run straight through agrees
    straight = train_text(_data(), _config(impl, batching, steps=9), out_dir=tmp_path / "new")
    _assert_same_weights(load_checkpoint(path)["model"], load_checkpoint(straight.checkpoint)["model"])
    assert load_checkpoint(path)["version"] == CHECKPOINT_VERSION  # rewritten in today's format


def _as_old_style(path: Path) -> None:
    """Rewrite today's checkpoint at ``path`` as the old code wrote it: version 1, ``cell`` and ``learning_rate``."""
    ckpt = torch.load(path, weights_only=True)
    config = ckpt["config"]
    config["cell"] = {"reference": "torch", "scratch": "scratch"}[config.pop("impl")]
    config["learning_rate"] = config.pop("lr")
    ckpt["version"] = 1
    torch.save(ckpt, path)


@pytest.mark.parametrize("impl", ["reference", "scratch"])
@pytest.mark.parametrize("batching", ["random", "sequential"])
def test_a_hand_made_old_style_checkpoint_resumes_bit_identically(tmp_path, impl, batching):
    config = _config(impl, batching, steps=7)
    straight = train_text(_data(), config, out_dir=tmp_path / "straight")
    cut = train_text(_data(), _config(impl, batching, steps=4), out_dir=tmp_path / "cut")
    _as_old_style(cut.checkpoint)
    train_text(_data(), config, out_dir=tmp_path / "cut", resume=True)
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(cut.checkpoint)
    _assert_same_weights(a["model"], b["model"])
    for i in a["optimizer"]["state"]:
        _assert_same_weights(a["optimizer"]["state"][i], b["optimizer"]["state"][i])
    assert a["history"]["val_loss"] == b["history"]["val_loss"]


def test_the_cli_resumes_samples_and_evaluates_an_old_checkpoint(tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(TEXT, encoding="utf-8")
    path = _old_checkpoint("sequential_torch", tmp_path / "run")
    assert main(["textgen", "sample", "--checkpoint", str(path), "--prompt", "the ", "--length", "20"]) == 0
    assert capsys.readouterr().out.startswith("the ")
    assert main(["textgen", "evaluate", "--checkpoint", str(path), "--text", str(book), "--start", "0.9"]) == 0
    assert "bpc" in capsys.readouterr().out
    argv = ["textgen", "train", "--text", str(book), "--out", str(path.parent), "--steps", "9", "--resume", "--quiet"]
    assert main([*argv, "--cell", "torch"]) == 0  # the old option, the checkpoint's own value: no conflict
    captured = capsys.readouterr()
    assert "--cell torch is deprecated; use --impl reference" in captured.err
    old_straight = torch.load(DATA / "textgen_v1_sequential_torch_step9_model.pt", weights_only=True)
    _assert_same_weights(load_checkpoint(path)["model"], old_straight)


def test_resume_refuses_an_impl_other_than_the_old_checkpoints(tmp_path, capsys):
    book = tmp_path / "book.txt"
    book.write_text(TEXT, encoding="utf-8")
    path = _old_checkpoint("sequential_torch", tmp_path / "run")
    argv = ["textgen", "train", "--text", str(book), "--out", str(path.parent), "--steps", "9", "--resume", "--quiet"]
    assert main([*argv, "--impl", "scratch"]) == 2
    assert "--impl 'scratch' (checkpoint: 'reference')" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the old library names


def test_old_config_keywords_warn_and_mean_the_new_ones():
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        old = TextTrainConfig(learning_rate=1e-2)
    assert old == TextTrainConfig(lr=1e-2)
    with pytest.warns(DeprecationWarning, match=r"cell='torch'.*impl='reference'"):
        old = TextTrainConfig(cell="torch")
    assert old.impl == "reference"
    with pytest.raises(TypeError, match="give only 'lr'"):
        TextTrainConfig(learning_rate=1e-2, lr=1e-3)


def test_old_config_attributes_warn_and_read_the_new_ones():
    config = TextTrainConfig(lr=1e-2, impl="reference", lr_decay=0.5, lr_decay_every=10)
    with pytest.warns(DeprecationWarning):
        assert config.learning_rate == config.lr
    with pytest.warns(DeprecationWarning):
        assert config.cell == "torch"
    with pytest.warns(DeprecationWarning):
        assert config.learning_rate_at(25) == config.lr_at(25)


@pytest.mark.parametrize(("old", "new"), [("torch", "reference"), ("scratch", "scratch")])
def test_the_models_old_cell_keyword_warns_and_means_impl(old, new):
    with pytest.warns(DeprecationWarning, match="cell="):
        model = TextGenerationModel(5, 4, 1, cell=old)
    assert model.impl == new


def test_todays_names_give_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextTrainConfig(lr=1e-2, impl="scratch")
        TextGenerationModel(5, 4, 1, impl="scratch")
        TextTrainConfig.from_dict({"cell": "torch", "learning_rate": 1e-2})  # an old file is valid input
