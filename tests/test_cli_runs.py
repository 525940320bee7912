"""Every example of issue 9 ("runs that survive"), through the CLI: signals to real processes, two runs on
one folder, a sweep's workers after its parent is killed, bad output paths refused before the work, full
and read-only filesystems, results before figures, and a resume that says what it does."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import gnnhw._utils
import gnnhw.plotting
from gnnhw.cli import main
from gnnhw.recurrent.train_text import CHECKPOINT_NAME, TextTrainConfig, load_checkpoint, train_text
from tests.mounts import full_dir, read_only_dir  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent
TEXT = "the cat sat on the mat. the dog sat on the log. " * 40
# A tiny textgen run: (CLI options, the same as a TextTrainConfig). --sample-every 1 prints "step k: ..." after
# every step, which the tests read as a progress marker (samples have their own RNG: training is unchanged).
TINY = dict(
    seq_length=10, batch_size=8, hidden_size=16, num_layers=1, dropout=0.0, eval_every=5,
    checkpoint_every=0, sample_every=1, sample_length=1, seed=1,
)  # fmt: skip
TINY_ARGS = [a for k, v in TINY.items() for a in (f"--{k.replace('_', '-')}", str(v))] + ["--quiet", "--threads", "1"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def _gnnhw(*args: str | Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gnnhw", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        **kwargs,
    )


def _wait_for_line(proc: subprocess.Popen, prefix: str) -> None:
    for line in proc.stdout:
        if line.startswith(prefix):
            return
    pytest.fail(f"the process ended before printing {prefix!r}: {proc.wait()} {proc.stderr.read()}")


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _assert_same_run(a: dict, b: dict) -> None:
    assert a["step"] == b["step"]
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert state_a.keys() == state_b.keys()
    for i in state_a:
        for k in state_a[i]:
            assert torch.equal(state_a[i][k], state_b[i][k]), (i, k)  # every tensor's Adam state at one step
    assert torch.equal(a["rng"]["batches"], b["rng"]["batches"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    for key in a["history"]:
        if key != "elapsed_s":
            assert a["history"][key] == b["history"][key], key
    assert a["samples"] == b["samples"]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------------- signals (real processes)


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGINT, 0.0, signal.SIGINT), (signal.SIGTERM, 0.02, signal.SIGINT)],
    ids=["SIGINT-twice-at-once", "SIGTERM-then-SIGINT-20ms-later"],
)
def test_signals_write_one_consistent_checkpoint_and_resume_bit_for_bit(tmp_path, capsys, signals):
    text, out = _text(tmp_path), tmp_path / "run"
    proc = _gnnhw("textgen", "train", "--text", text, "--steps", 100_000, "--out", out, *TINY_ARGS)
    try:
        _wait_for_line(proc, "step 8:")
        # Meanwhile a second run into the same folder is refused at once, with one line.
        assert main(["textgen", "train", "--text", str(text), "--steps", "5", "--out", str(out), *TINY_ARGS]) == 2
        assert "is in use by another running gnnhw command" in _one_line(capsys.readouterr().err)
        first, gap, second = signals
        proc.send_signal(first)
        time.sleep(gap)
        proc.send_signal(second)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + first  # 130 for SIGINT, 143 for SIGTERM
    line = _one_line(err)
    assert f"interrupted by {signal.Signals(first).name}" in line
    assert str(out / CHECKPOINT_NAME) in line
    step = load_checkpoint(out / CHECKPOINT_NAME)["step"]
    assert f"checkpoint at step {step} " in line
    assert step >= 8

    # The same command with --resume (in this process: the CLI's code, without a second start-up of torch).
    argv = ["textgen", "train", "--text", str(text), "--steps", str(step + 4), "--out", str(out), "--resume"]
    assert main(argv + TINY_ARGS) == 0
    train_text(text, TextTrainConfig(steps=step + 4, **TINY), out_dir=tmp_path / "straight")
    _assert_same_run(load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME), load_checkpoint(out / CHECKPOINT_NAME))


# ------------------------------------------------------------------------------------------------- sweeps


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be collected


SWEEP = ["--models", "rnn", "--seeds", "1", "--hidden-size", "4", "--batch-size", "2", "--test-size", "4", "--quiet"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
@pytest.mark.parametrize("kill_with", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_running_sweep_refuses_a_second_one_and_its_workers_die_with_it(tmp_path, capsys, kill_with):
    out = tmp_path / "sweep"
    proc = _gnnhw("palindrome-sweep", "--out", out, "--lengths", 5, 6, "--workers", 2, "--steps", 10**8, *SWEEP)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            workers = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(workers) == 2, (proc.poll(), workers)
        # A second sweep into the same folder (other lengths) is refused and writes nothing.
        argv = ["palindrome-sweep", "--out", str(out), "--lengths", "7", "8", "--workers", "1", "--steps", "3"]
        assert main(argv + SWEEP) == 2
        assert "in use by another running gnnhw command" in _one_line(capsys.readouterr().err)
        assert not (out / "sweep.json").exists()
        helpers = _children(proc.pid)  # the workers, and multiprocessing's resource tracker
        proc.send_signal(kill_with)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if kill_with == signal.SIGTERM:
        assert proc.returncode == 143
        assert "interrupted by SIGTERM; the finished jobs are kept in" in _one_line(err)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in helpers if _alive(p)], "worker processes outlived the sweep by 10 s"


def test_a_refused_sweep_writes_nothing_and_the_corrected_rerun_is_not_refused(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["palindrome-sweep", "--out", str(out), "--lengths", "3", *SWEEP]
    assert main([*args, "--workers", "0", "--steps", "4"]) == 2
    assert "--workers must be a positive integer, got 0" in _one_line(capsys.readouterr().err)
    assert not out.exists()
    assert main([*args, "--workers", "1", "--steps", "3"]) == 0  # other --steps: not "made with other settings"
    assert (out / "sweep.json").exists()
    assert (out / "sweep.png").exists()


# ------------------------------------------------------------------------------ bad outputs, before the work


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train-gcn", "--plot", "{tmp}/curves.xyz"], r"--plot '.*curves\.xyz': matplotlib cannot write"),
        (["train-gcn", "--save", "{tmp}/a-file/model.pt"], r"--save '.*model\.pt' cannot be created: .* is a file"),
        (["train-gcn", "--save", "{tmp}"], r"--save '.*' is a folder, but a file is expected"),
        (["train-gcn", "--json", "{tmp}/a-file/r.json"], r"--json .* is a file, not a folder"),
        (["depth-study", "--plot", "{tmp}/depth"], r"--plot .*no suffix"),
        (["palindrome", "--out", "{tmp}/a-file"], r"--out '.*a-file' is a file, but a folder is expected"),
        (["palindrome-sweep", "--out", "{tmp}/a-file"], r"--out '.*a-file' is a file, but a folder is expected"),
        (["optimizers", "--out", "{tmp}/a-file"], r"--out '.*a-file' is a file"),
        (["grads-over-time", "--out", "{tmp}/a-file/x"], r"--out .* is a file, not a folder"),
        (["textgen", "train", "--text", "{tmp}/t.txt", "--out", "{tmp}/a-file"], r"--out '.*a-file' is a file"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_bad_output_paths_are_one_line_before_any_data_is_read(tmp_path, capsys, argv, message):
    import re

    (tmp_path / "a-file").write_text("not a folder")
    data_root = ["--data-root", str(tmp_path / "no-data")] if argv[0] in ("train-gcn", "depth-study") else []
    assert main([a.format(tmp=tmp_path) for a in argv] + data_root) == 2  # no data: the path is checked first
    line = _one_line(capsys.readouterr().err)
    assert re.search(message, line), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.parametrize(
    "argv",
    [
        ["train-gcn", "--json", "/dev/full"],
        ["depth-study", "--json", "{tmp}/pipe"],
        ["train-gcn", "--json", "{tmp}/r.png", "--plot", "{tmp}/r.png"],
        ["train-gcn", "--save", "{tmp}/m", "--json", "{tmp}/./m"],
        ["palindrome", "--out", ""],
        ["optimizers", "--out", ""],
        ["textgen", "train", "--text", "{tmp}/pipe", "--out", ""],
        ["train-gcn", "--save", ""],
        ["eval-gcn", ""],
    ],
    ids=["device", "fifo", "json-and-plot", "save-and-json", "pal-empty", "opt-empty", "tg-empty", "save-empty",
         "eval-empty"],
)  # fmt: skip
def test_special_shared_or_empty_output_paths_are_refused_before_the_work(tmp_path, capsys, argv):
    # /dev/full was once replaced by the results JSON (an atomic rename onto a device node); two outputs on
    # one file kept only the last; an empty --out silently wrote into the current folder
    os.mkfifo(tmp_path / "pipe")
    data_root = ["--data-root", str(tmp_path / "no-data")] if argv[0] in ("train-gcn", "depth-study") else []
    argv = [a.format(tmp=tmp_path) for a in argv] + data_root
    if "" in argv:  # refused by argparse: exit 2 with usage and one error line
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    else:
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(r"not a regular file|both name .* own file|expected a path, got ''", err), err
    assert Path("/dev/full").is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.parametrize(
    "argv",
    [
        ["depth-study", "--json", "{ro}/depth.json"],
        ["train-gcn", "--save", "{ro}/model.pt"],
        ["train-gcn", "--plot", "{ro}/sub/curves.png"],
        ["palindrome", "--out", "{ro}/run"],
    ],
    ids=["depth-study-json", "train-gcn-save", "train-gcn-plot", "palindrome-out"],
)
def test_a_read_only_filesystem_is_refused_before_the_work(tmp_path, capsys, read_only_dir, argv):  # noqa: F811
    data_root = ["--data-root", str(tmp_path / "no-data")] if argv[0] != "palindrome" else []
    assert main([a.format(ro=read_only_dir) for a in argv] + data_root) == 2
    assert "Read-only file system (EROFS)" in _one_line(capsys.readouterr().err)


# --------------------------------------------------------------------------------------- full disk, figures


def test_a_full_disk_while_writing_the_checkpoint_is_one_line(tmp_path, capsys, full_dir):  # noqa: F811
    argv = ["textgen", "train", "--text", str(_text(tmp_path)), "--steps", "3", "--out", str(full_dir / "run")]
    assert main(argv + TINY_ARGS) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"cannot write '{full_dir / 'run' / CHECKPOINT_NAME}': No space left on device (ENOSPC)" in line
    # no half-written file, nor the folder made for a run that wrote nothing (it held only the lock file)
    assert not (full_dir / "run").exists()


def test_a_full_disk_while_writing_sweep_json_is_one_line(capsys, full_dir):  # noqa: F811
    argv = ["palindrome-sweep", "--out", str(full_dir / "sweep"), "--lengths", "3", "--workers", "1", "--steps", "3"]
    assert main(argv + SWEEP) == 2
    assert "sweep.json': No space left on device (ENOSPC)" in _one_line(capsys.readouterr().err)
    assert not (full_dir / "sweep" / "sweep.json").exists()


def _no_space(fd, data):
    os.write(fd, data[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failing_figure_never_hides_the_numbers_or_the_json(tmp_path, capsys, monkeypatch):
    real = gnnhw._utils.atomic_write_bytes

    def figure_on_a_full_disk(path, data):  # the disk fills up just when the figure is written
        with monkeypatch.context() as patch:
            patch.setattr(gnnhw._utils, "_write_all", _no_space)
            return real(path, data)

    monkeypatch.setattr(gnnhw.plotting, "atomic_write_bytes", figure_on_a_full_disk)
    argv = ["palindrome", "--out", str(tmp_path), "--length", "4", "--steps", "5", "--hidden-size", "4", "--quiet"]
    assert main(argv + ["--test-size", "8"]) == 2
    captured = capsys.readouterr()
    assert "lstm T=4 seed=0: test accuracy" in captured.out
    assert "palindrome_lstm_T4_seed0.png': No space left on device" in _one_line(captured.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gnnhw.lock", "palindrome_lstm_T4_seed0.json"]


# ------------------------------------------------------------------------------------------------- resume


def test_resume_says_what_it_does(tmp_path, capsys):
    text, out = str(_text(tmp_path)), tmp_path / "run"
    assert main(["textgen", "train", "--text", text, "--steps", "6", "--out", str(out), *TINY_ARGS]) == 0
    before = (out / CHECKPOINT_NAME).read_bytes()
    capsys.readouterr()
    for steps in ("6", "2"):  # at or past the goal: says so, trains nothing, exit 0
        assert main(["textgen", "train", "--text", text, "--steps", steps, "--out", str(out), "--resume"]) == 0
        assert f"already at step 6, at or past --steps {steps}: nothing to train" in capsys.readouterr().out
    changed = ["--hidden-size", "32", "--lr", "0.01", "--seq-length", str(TINY["seq_length"])]  # the last: same
    assert main(["textgen", "train", "--text", text, "--steps", "9", "--out", str(out), "--resume", *changed]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--hidden-size 32 (checkpoint: 16), --lr 0.01 (checkpoint: 0.002)" in line
    assert "seq" not in line
    assert (out / CHECKPOINT_NAME).read_bytes() == before


# ------------------------------------------------------------------------------- the handlers, in-process


@pytest.fixture
def restore_signal_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_deferred_signals_only_set_the_flag_and_stop_when_the_loop_is_left(restore_signal_handlers):
    from gnnhw.cli._run import Interrupted, SignalStop

    stop = SignalStop()
    with pytest.raises(Interrupted) as caught, stop.installed():
        with stop.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)  # a second signal, of another kind: only counted
            for _ in range(1000):  # let the handlers run (they run between bytecodes)
                if stop.count == 2:
                    break
                time.sleep(0.001)
            assert stop.should_stop()  # still here: nothing was raised mid-step
            assert stop.count == 2
    assert caught.value.signum == signal.SIGTERM
    assert caught.value.exit_code == 143
    os.kill(os.getpid(), signal.SIGINT)  # after the command: counted, never a KeyboardInterrupt at exit
    time.sleep(0.01)
    assert stop.count == 3


def test_a_command_without_checkpoints_stops_at_once_and_says_nothing_was_written(
    tmp_path, capsys, monkeypatch, restore_signal_handlers
):
    import gnnhw.recurrent.train

    def train_until_terminated(config, progress=False):
        os.kill(os.getpid(), signal.SIGTERM)  # as from `docker stop`, in the middle of training
        time.sleep(30)
        pytest.fail("the signal did not stop the command")

    monkeypatch.setattr(gnnhw.recurrent.train, "train", train_until_terminated)
    assert main(["palindrome", "--out", str(tmp_path / "run"), "--quiet"]) == 143
    line = _one_line(capsys.readouterr().err)
    expected = "interrupted by SIGTERM; no results were written: they are written only once the run finishes"
    assert line == f"gnnhw palindrome: {expected}"
    assert not (tmp_path / "run").exists()  # nothing written, not even the folder made for the run


def _catches(pid: int, signum: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(mask >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads signal masks from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_program_starts_is_one_line_and_its_exit_code(signum):
    # SIGTERM while the modules loaded killed the process silently (exit 143, empty stderr). The import of the
    # CLI is held for 60 s here, so the signal surely arrives while the program starts.
    hold = textwrap.dedent(
        """
        import runpy, sys, time
        class Hold:
            @staticmethod
            def find_spec(name, path=None, target=None):
                if name == "gnnhw.cli":
                    time.sleep(60)
        sys.meta_path.insert(0, Hold)
        sys.argv = ["gnnhw", "adjacency", "--example"]
        runpy.run_module("gnnhw", run_name="__main__", alter_sys=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", hold], stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 30
        # SIGTERM is caught once the program's handlers are installed (Python itself catches SIGINT from the start)
        while not _catches(proc.pid, signal.SIGTERM):
            assert time.monotonic() < deadline, "no handler installed while starting"
            assert proc.poll() is None, "no handler installed while starting"
            time.sleep(0.01)
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 128 + signum
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert _one_line(err) == f"gnnhw: interrupted by {signal.Signals(signum).name} while starting; nothing was done"


@pytest.mark.parametrize(
    "argv", [["adjacency", "--example"], ["receptive-field", "--example"]], ids=["adjacency", "receptive-field"]
)
def test_standard_output_that_fails_is_one_line_and_a_closed_pipe_a_quiet_stop(argv):
    # > /dev/full and | head were tracebacks (OSError ENOSPC, BrokenPipeError)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "gnnhw", *argv], stdout=full, stderr=subprocess.PIPE, text=True, env=_env()
        )
    assert done.returncode == 2
    assert (
        _one_line(done.stderr)
        == f"gnnhw {argv[0]}: error: cannot write to standard output: No space left on device (ENOSPC)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gnnhw", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )
    proc.stdout.close()  # the reader is gone before the first line
    assert proc.wait(timeout=60) == 128 + signal.SIGPIPE
    assert proc.stderr.read() == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["textgen", "train", "--text", "{tmp}/no-such.txt", "--steps", "2", "--out", "{tmp}/new/run"],
        ["palindrome", "--steps", "2", "--device", "tpu", "--out", "{tmp}/new/run"],
        ["palindrome-sweep", "--steps", "2", "--lengths", "3", "--device", "tpu", "--out", "{tmp}/new/run"],
        ["optimizers", "--steps", "2", "--device", "tpu", "--out", "{tmp}/new/run"],
    ],
    ids=["textgen-missing-text", "palindrome-bad-device", "sweep-bad-device", "optimizers-bad-device"],
)
def test_a_command_refused_after_its_folder_was_locked_leaves_no_folder(tmp_path, capsys, argv):
    # the output folder (with its lock file) was made, then the text or the device was refused: a trace
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    _one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "mine.txt").write_text("x")  # a folder that existed, with files, is left alone
    argv = [a.replace("{tmp}/new/run", "{tmp}/kept") for a in argv]
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert (tmp_path / "kept" / "mine.txt").read_text() == "x"
