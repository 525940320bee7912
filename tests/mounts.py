"""Small filesystems for the full-disk and read-only tests: a tmpfs mounted for one test.

Root can write through a read-only bind mount's permissions and through chmod, so the only honest
"read-only" and "full" places are real filesystems: a tmpfs mounted ``ro``, and a tiny tmpfs filled up.
Mounting needs privileges (CI runs as root); where ``mount`` is not permitted the tests skip with the
reason, and the monkeypatched ENOSPC tests (which always run) cover the same code paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(where: Path, size_kib: int = 256, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size_kib`` KiB at ``where`` (skip the test if that is not permitted)."""
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no 'mount' command: cannot make a small or read-only filesystem here")
    options = f"size={size_kib}k" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        pytest.skip(f"cannot mount a tmpfs here ({reason[0] if reason else 'mount failed'}); needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> None:
    """Write a filler file into ``folder`` until its filesystem has no byte left."""
    chunk = b"\0" * 4096
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, chunk)
    except OSError as err:
        assert err.errno == errno.ENOSPC, err
    finally:
        os.close(fd)
    with contextlib.suppress(OSError), open(folder / "filler", "ab") as f:  # the last partial block too
        while True:
            f.write(b"\0")
            f.flush()


@pytest.fixture
def full_dir(tmp_path) -> Iterator[Path]:
    """A folder on a small tmpfs with no free byte left (files can still be created, empty)."""
    with tmpfs(tmp_path / "full", size_kib=128) as where:
        fill(where)
        yield where


@pytest.fixture
def read_only_dir(tmp_path) -> Iterator[Path]:
    """A folder on a tmpfs mounted read-only (root cannot write there either)."""
    with tmpfs(tmp_path / "ro", size_kib=64, read_only=True) as where:
        yield where
