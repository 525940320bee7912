"""The run lifecycle's library half (gnnhw.runs, gnnhw._utils): output checks before any work, locks
whose holder may die, cleanup of a killed writer's temporaries, and write errors as one line (issue 9)."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import gnnhw._utils
from gnnhw._utils import TEMP_PATTERN, atomic_path, atomic_torch_save, atomic_write_bytes, atomic_write_text
from gnnhw.errors import OutputError, OutputLockedError
from gnnhw.runs import (
    LOCK_NAME,
    OutputLock,
    check_figure_path,
    check_output_dir,
    check_output_file,
    clean_stale_temporaries,
    prepare_outputs,
    supported_figure_suffixes,
)
from tests.mounts import full_dir, read_only_dir  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


# ------------------------------------------------------------------------------------------- path checks


def test_a_file_where_a_folder_is_meant_is_refused_and_nothing_is_created(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"--out '.*file' is a file, but a folder is expected"):
        check_output_dir(tmp_path / "file", "--out")
    with pytest.raises(OutputError, match=r"cannot be created: '.*file' is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "sub" / "run", "--out")
    assert check_output_dir(tmp_path / "new" / "run", "--out") == tmp_path / "new" / "run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # checking created nothing


def test_a_folder_where_a_file_is_meant_and_a_file_under_a_file_are_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"--save '.*' is a folder, but a file is expected"):
        check_output_file(tmp_path, "--save")
    with pytest.raises(OutputError, match=r"--save '.*file/m\.pt' cannot be created: '.*file' is a file"):
        check_output_file(tmp_path / "file" / "m.pt", "--save")
    check_output_file(tmp_path / "a" / "b" / "m.pt", "--save")
    assert not (tmp_path / "a").exists()


def test_special_files_are_never_replaced_by_a_result(tmp_path):
    # an atomic write renames a temporary onto the path: onto /dev/full (as root) or a FIFO, that would
    # replace the device node or the pipe with a regular file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for special, kind in ((Path("/dev/full"), "character device"), (fifo, "FIFO")):
        with pytest.raises(OutputError, match=rf"--json '{re.escape(str(special))}' is a {kind}.*not a regular file"):
            check_output_file(special, "--json")
        with pytest.raises(OutputError, match=rf"cannot write '{re.escape(str(special))}': it is a {kind}"):
            gnnhw._utils.atomic_write_text(special, "{}")
    assert Path("/dev/full").is_char_device()
    assert fifo.is_fifo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary left either


def test_a_symlinked_output_file_is_written_through_the_link(tmp_path):
    (tmp_path / "target.json").write_text("old")
    (tmp_path / "link.json").symlink_to(tmp_path / "target.json")
    gnnhw._utils.atomic_write_text(tmp_path / "link.json", "new")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "target.json").read_text() == "new"
    (tmp_path / "dangling.json").symlink_to(tmp_path / "no" / "such" / "x.json")  # no folder is made for it
    gnnhw._utils.atomic_write_text(tmp_path / "dangling.json", "new")
    assert (tmp_path / "dangling.json").read_text() == "new"
    assert not (tmp_path / "no").exists()


def test_two_outputs_of_one_command_on_one_file_are_refused(tmp_path):
    (tmp_path / "d").mkdir()
    for files, figures in (
        ([(tmp_path / "r.png", "--json")], [(tmp_path / "r.png", "--plot")]),
        ([(tmp_path / "m", "--save"), (tmp_path / "d" / ".." / "m", "--json")], []),
    ):
        with pytest.raises(OutputError, match=r"(--plot and --json|--json and --save) both name .*own file"):
            with prepare_outputs(files=files, figures=figures):
                pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_figure_paths_need_a_suffix_matplotlib_can_write(tmp_path):
    supported = supported_figure_suffixes()
    assert {"png", "pdf", "svg"} <= set(supported)
    assert "xyz" not in supported
    for name in ("curves.png", "curves.PDF", "c.svg"):
        check_figure_path(tmp_path / name, "--plot")
    with pytest.raises(OutputError, match=r"--plot 'curves\.xyz': matplotlib cannot write .*'\.xyz'.*\.png"):
        check_figure_path("curves.xyz", "--plot")
    with pytest.raises(OutputError, match="no suffix"):
        check_figure_path(tmp_path / "curves", "--plot")


def test_a_read_only_filesystem_is_refused_before_any_work(read_only_dir):  # noqa: F811
    with pytest.raises(OutputError, match=r"Read-only file system \(EROFS\)"):
        check_output_dir(read_only_dir / "run", "--out")
    with pytest.raises(OutputError, match=r"--json '.*x\.json'.*Read-only file system"):
        check_output_file(read_only_dir / "x.json", "--json")
    with pytest.raises(OutputError, match="Read-only file system"):
        atomic_write_text(read_only_dir / "x.json", "{}")


def test_prepare_outputs_checks_every_path_before_it_creates_or_locks_anything(tmp_path):
    with pytest.raises(OutputError, match="xyz"):
        with prepare_outputs(folders=[(tmp_path / "run", "--out")], figures=[(tmp_path / "run" / "c.xyz", "--plot")]):
            pytest.fail("the body must not run")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------- locks


def test_a_second_lock_on_the_same_folder_is_refused_and_released_after(tmp_path):
    with OutputLock(tmp_path / "run", label="--out"):
        assert (tmp_path / "run" / LOCK_NAME).exists()
        with pytest.raises(OutputLockedError, match=r"--out '.*run' is in use by another running gnnhw command"):
            OutputLock(tmp_path / "run", label="--out").acquire()
    with OutputLock(tmp_path / "run"):  # free again
        pass


def test_one_file_reached_by_two_names_has_one_lock(tmp_path):
    # two runs with --json link.json and --json target.json wrote the same file under two locks
    (tmp_path / "target.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "target.json")
    (tmp_path / "sub").mkdir()
    with OutputLock(tmp_path / "target.json", folder=False, label="--json"):
        for alias in (tmp_path / "link.json", tmp_path / "sub" / ".." / "target.json"):
            with pytest.raises(OutputLockedError, match="is in use by another running gnnhw command"):
                OutputLock(alias, folder=False, label="--json").acquire()


def test_file_locks_live_outside_the_results_folder(tmp_path):
    with OutputLock(tmp_path / "results.json", folder=False) as lock:
        assert tmp_path not in lock.lock_file.parents
        with pytest.raises(OutputLockedError):
            OutputLock(tmp_path / "results.json", folder=False).acquire()
        OutputLock(tmp_path / "other.json", folder=False).acquire().release()
    assert list(tmp_path.iterdir()) == []


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    lock = OutputLock(tmp_path / "run")
    lock.lock_file.parent.mkdir(parents=True)
    code = (
        f"import filelock, time; held = filelock.FileLock({str(lock.lock_file)!r}); held.acquire(); "
        "print('locked', flush=True); time.sleep(60)"
    )  # holds the same lock the way gnnhw does (filelock's flock), then hangs
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError):
            lock.acquire()
    finally:
        holder.kill()
        holder.wait()
    lock.acquire()  # the kernel dropped the dead holder's flock: the stale lock file is simply reused
    lock.release()


# ------------------------------------------------------------------------------------------- temporaries


def test_temporaries_have_a_recognisable_name_and_keep_the_suffix(tmp_path):
    with atomic_path(tmp_path / "checkpoint.pt") as tmp:
        match = TEMP_PATTERN.match(tmp.name)
        assert match
        assert int(match.group(1)) == os.getpid()
        assert tmp.suffix == ".pt"
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_only_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".checkpoint.pt.{dead}.k2j4h5.gnnhw-tmp.pt"
    live = tmp_path / f".checkpoint.pt.{os.getpid()}.a1b2c3.gnnhw-tmp.pt"
    others = [tmp_path / ".checkpoint.x9y8z7.pt", tmp_path / "notes.gnnhw-tmp.txt", tmp_path / "checkpoint.pt"]
    for path in [stale, live, *others]:
        path.write_bytes(b"x")
    assert clean_stale_temporaries(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [live, *others])


def test_kill_9_during_a_checkpoint_write_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    # A real writer, killed with SIGKILL half-way through writing the checkpoint's bytes.
    script = textwrap.dedent(
        f"""
        import os, time, torch, gnnhw._utils as u
        def half_then_hang(fd, data):
            os.write(fd, data[: len(data) // 2]); os.fsync(fd); print("writing", flush=True); time.sleep(60)
        u._write_all = half_then_hang
        u.atomic_torch_save({{"w": torch.zeros(1000)}}, {str(tmp_path / "checkpoint.pt")!r})
        """
    )
    atomic_torch_save({"w": torch.ones(3)}, tmp_path / "checkpoint.pt")  # the previous, good checkpoint
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert writer.stdout.readline().strip() == "writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    leftovers = [p for p in tmp_path.iterdir() if TEMP_PATTERN.match(p.name)]
    assert len(leftovers) == 1
    assert leftovers[0].stat().st_size > 0
    with prepare_outputs(folders=[tmp_path]) as removed:  # what every command does before its work
        assert removed == leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LOCK_NAME, "checkpoint.pt"])
    assert torch.equal(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["w"], torch.ones(3))


# --------------------------------------------------------------------------------------------- full disk


def _no_space(fd, data):  # half the bytes land, then the disk is full
    os.write(fd, data[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("writer", ["text", "torch", "figure"])
def test_enospc_is_one_line_naming_the_path_and_the_previous_file_is_kept(tmp_path, monkeypatch, writer):
    target = tmp_path / {"text": "sweep.json", "torch": "checkpoint.pt", "figure": "curves.png"}[writer]
    target.write_bytes(b"previous")
    monkeypatch.setattr(gnnhw._utils, "_write_all", _no_space)
    with pytest.raises(OutputError) as caught:
        _write(writer, target)
    message = str(caught.value)
    assert "\n" not in message
    assert str(target) in message
    assert "No space left on device (ENOSPC)" in message
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def _write(writer: str, target: Path) -> None:
    if writer == "text":
        atomic_write_text(target, '{"records": []}\n' * 2000)
    elif writer == "torch":
        atomic_torch_save({"w": torch.randn(20_000)}, target)
    else:
        from matplotlib.figure import Figure

        from gnnhw.plotting import save_figure

        fig = Figure()
        fig.add_subplot().plot(range(100))
        save_figure(fig, target)


@pytest.mark.parametrize("writer", ["text", "torch", "figure"])
def test_a_really_full_disk_is_one_line_and_the_previous_file_is_kept(full_dir, writer):  # noqa: F811
    target = full_dir / {"text": "sweep.json", "torch": "checkpoint.pt", "figure": "curves.png"}[writer]
    os.replace(full_dir / "filler", target)  # the previous version of the file fills the disk
    before = target.stat().st_size
    with pytest.raises(OutputError) as caught:
        _write(writer, target)
    message = str(caught.value)
    assert "\n" not in message
    assert "No space left on device (ENOSPC)" in message
    assert str(target) in message
    assert "inline_container" not in message
    assert target.stat().st_size == before
    assert [p.name for p in full_dir.iterdir()] == [target.name]


def test_atomic_write_bytes_writes_everything(tmp_path):
    data = os.urandom(300_000)
    atomic_write_bytes(tmp_path / "blob.bin", data)
    assert (tmp_path / "blob.bin").read_bytes() == data
