"""A command refused after its output folder was locked (a bad input found inside the run) leaves no folder.

``prepare_outputs`` checks and locks the outputs before the work, which creates the output folder; a
command refused later (an empty ``--text``, say) used to leave that folder behind with only its lock in it.
"""

from __future__ import annotations

import pytest

from gnnhw.cli import main
from gnnhw.errors import ConfigError
from gnnhw.runs import LOCK_NAME, OutputLock, prepare_outputs


def test_refused_run_removes_the_folders_it_created(tmp_path):
    out = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(ConfigError), prepare_outputs(folders=[(out, "--out")]):
        assert (out / LOCK_NAME).exists()
        raise ConfigError("bad input found after locking")
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_run_with_nothing_written_removes_its_folder(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), prepare_outputs(folders=[out]):
        raise KeyboardInterrupt
    assert not out.exists()


def test_existing_folders_and_written_results_are_kept(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(ConfigError), prepare_outputs(folders=[existing]):
        raise ConfigError("refused")
    assert existing.is_dir()  # it was there before: never removed (its lock file may stay, as after any run)

    written = tmp_path / "parent" / "written"
    with pytest.raises(ConfigError), prepare_outputs(folders=[written]):
        (written / "checkpoint.pt").write_bytes(b"kept")
        raise ConfigError("stopped after writing")
    assert (written / "checkpoint.pt").read_bytes() == b"kept"
    assert (written / LOCK_NAME).exists()


def test_successful_run_keeps_its_folder(tmp_path):
    out = tmp_path / "run"
    with prepare_outputs(folders=[out]):
        pass
    assert out.is_dir()


def test_a_folder_locked_by_another_command_is_left_alone(tmp_path):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    with OutputLock(theirs):  # another holder: refused, and neither folder is touched by the refusal
        with pytest.raises(Exception, match="in use by another running gnnhw command"):
            with prepare_outputs(folders=[mine, theirs]):
                pass  # pragma: no cover
        assert (theirs / LOCK_NAME).exists()
    assert not mine.exists()


def test_cli_refused_textgen_train_leaves_no_output_folder(capsys, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "runs" / "book"
    code = main(["textgen", "train", "--text", str(empty), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "is empty" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_cli_resume_without_a_run_says_so_and_leaves_nothing(capsys, tmp_path):
    text = tmp_path / "book.txt"
    text.write_text("the king and the queen went into the wood. " * 20)
    out = tmp_path / "typo-of-run"
    code = main(["textgen", "train", "--text", str(text), "--out", str(out), "--resume", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "nothing to resume" in err, err
    assert "drop --resume" in err, err
    assert not out.exists()


def test_library_resume_without_a_run_says_so(tmp_path):
    from gnnhw.errors import CheckpointError
    from gnnhw.recurrent.train_text import train_text

    with pytest.raises(CheckpointError, match="nothing to resume: .* does not exist; start a new run there without"):
        train_text(tmp_path / "book.txt", out_dir=tmp_path / "missing", resume=True)


def test_a_run_folder_given_as_checkpoint_names_the_file_inside(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")
    assert main(["textgen", "sample", "--checkpoint", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"give the file, e.g. '{run / 'checkpoint.pt'}'" in err, err
    assert main(["eval-gcn", str(tmp_path)]) == 2  # a folder without any .pt file: no suggestion
    err = capsys.readouterr().err
    assert "is a directory, expected a file; it holds no .pt file" in err, err
