"""The thread policy (gnnhw.threads) and the --threads option of every command that computes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gnnhw import threads
from gnnhw.cli import build_parser, main
from gnnhw.errors import ConfigError
from gnnhw.threads import (
    GRAPH_PARALLEL_EDGES,
    MAX_THREADS,
    RECURRENT_PARALLEL_SIZE,
    resolve_threads,
    threads_for,
    use_threads,
)

# Every command that computes with torch, with the arguments it needs to get as far as parsing.
COMMANDS = [
    ["palindrome"],
    ["palindrome-sweep"],
    ["optimizers"],
    ["grads-over-time"],
    ["train-gcn"],
    ["eval-gcn", "gcn.pt"],
    ["depth-study"],
    ["bptt"],
    ["gnn-vs-rnn"],
    ["textgen", "train", "--text", "book.txt", "--out", "run"],
    ["textgen", "sample", "--checkpoint", "c.pt"],
    ["textgen", "evaluate", "--checkpoint", "c.pt", "--text", "book.txt"],
]


def test_small_recurrent_models_use_one_thread():
    assert threads_for("recurrent", 128 * 128, cores=16) == 1  # the palindrome LSTM's batch x hidden
    assert threads_for("recurrent", 0, cores=16) == 1  # unknown size counts as small


def test_large_recurrent_models_use_every_core():
    assert threads_for("recurrent", RECURRENT_PARALLEL_SIZE, cores=16) == 16
    assert threads_for("recurrent", RECURRENT_PARALLEL_SIZE - 1, cores=16) == 1


def test_planetoid_sized_graphs_use_one_thread_large_graphs_every_core():
    assert threads_for("graph", 10_556, cores=8) == 1  # Cora
    assert threads_for("graph", 88_648, cores=8) == 1  # PubMed
    assert threads_for("graph", GRAPH_PARALLEL_EDGES, cores=8) == 8
    assert threads_for("graph", 10**7, cores=2) == 2


def test_sweep_workers_use_one_thread_whatever_the_size():
    assert threads_for("worker", 10**9, cores=64) == 1


@pytest.mark.parametrize(("idle", "expected"), [(0.0, 1), (0.4, 1), (1.2, 1), (1.6, 2), (2.0, 2), (7.9, 8)])
def test_large_work_uses_the_idle_cores_by_default(monkeypatch, idle, expected):
    monkeypatch.setattr(threads, "idle_cores", lambda: idle)
    assert threads_for("graph", 10**8) == expected


def test_small_work_does_not_measure_the_machine(monkeypatch):
    monkeypatch.setattr(threads, "idle_cores", lambda: pytest.fail("measured the idle cores for small work"))
    assert threads_for("graph", 10_556) == 1
    assert threads_for("worker", 10**9) == 1


def test_idle_cores_is_between_zero_and_the_usable_cores():
    idle = threads.idle_cores(interval=0.02)
    assert 0.0 <= idle <= threads.usable_cores()


def test_usable_cores_is_the_affinity():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads.usable_cores() == expected


@pytest.mark.parametrize(
    ("kind", "size", "cores", "match"),
    [
        ("gpu", 1, None, "unknown kind"),
        ("graph", -1, None, "size"),
        ("graph", 1.5, None, "size"),
        ("graph", 1, 0, "cores"),
    ],
)
def test_bad_policy_arguments_are_refused(kind, size, cores, match):
    with pytest.raises(ConfigError, match=match):
        threads_for(kind, size, cores=cores)


@pytest.mark.parametrize("bad", [0, -1, MAX_THREADS + 1, 10**9, "four", 2.0, True, None])
def test_resolve_threads_refuses_what_is_not_auto_or_a_count(bad):
    with pytest.raises(ConfigError, match="threads must be 'auto' or an integer"):
        resolve_threads(bad)


def test_use_threads_sets_and_restores():
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    with use_threads(target) as count:
        assert count == target
        assert torch.get_num_threads() == target
    assert torch.get_num_threads() == before


def test_use_threads_restores_after_an_error():
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    with pytest.raises(RuntimeError, match="inside"), use_threads(target):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_use_threads_auto_picks_one_thread_for_small_work():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with use_threads("auto", "recurrent", 128 * 128) as count:
            assert count == 1
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_use_threads_with_a_bad_count_changes_nothing():
    before = torch.get_num_threads()
    with pytest.raises(ConfigError), use_threads(0):
        pass
    assert torch.get_num_threads() == before


def test_importing_gnnhw_sets_no_threads():
    code = (
        "import torch; torch.set_num_threads(3); import gnnhw.threads, gnnhw.cli, gnnhw.recurrent.experiments; "
        "print(torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "3"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_computing_command_takes_threads_auto_by_default(command):
    args = build_parser().parse_args(command)
    assert args.threads == "auto"
    assert build_parser().parse_args([*command, "--threads", "3"]).threads == 3


@pytest.mark.parametrize("value", ["0", "-2", str(MAX_THREADS + 1), "1e9", "many"])
@pytest.mark.parametrize("command", [COMMANDS[0], COMMANDS[4], COMMANDS[9]], ids=lambda c: c[0])
def test_a_bad_thread_count_is_one_line_exit_2(command, value, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (textgen train would make its --out folder here before it is refused)
    try:
        code = main([*command, "--threads", value])
    except SystemExit as exit_info:  # refused by the parser
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--threads" in err


def test_palindrome_with_threads_auto_trains_on_one_thread(capsys):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        argv = ["palindrome", "--model", "rnn", "--length", "3", "--steps", "2", "--hidden", "4", "--batch-size", "4"]
        assert main([*argv, "--test-size", "10", "--quiet", "--device", "cpu", "--threads", "auto"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
