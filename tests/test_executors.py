"""gnnhw.executors: the Ray executor gives the local executor's results, retries a killed worker's job, resumes
across executors; bad executor options exit 2 in one line (Ray missing, an unreachable --address)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest
import torch

from gnnhw.cli import main
from gnnhw.errors import ConfigError, ExecutorError
from gnnhw.executors import check_executor, run_on_ray
from gnnhw.recurrent.experiments import run_sweep
from gnnhw.recurrent.train import PalindromeConfig

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (pip install 'gnnhw[ray]')")

TINY = PalindromeConfig(hidden_size=8, batch_size=16, train_steps=15, test_size=64)


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance (2 CPUs) for the module: starting one takes seconds."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


def _records(path: Path) -> list[dict]:
    records = json.loads(path.read_text())["records"]
    for record in records:
        record.pop("seconds")  # wall time: the one field that differs between runs
    return records


@needs_ray
def test_ray_sweep_writes_the_same_results_as_the_local_executor(ray_instance, tmp_path: Path) -> None:
    args = (TINY, ("rnn", "lstm"), (3,), (0, 1))
    local = run_sweep(*args, tmp_path / "local.json", workers=1)
    remote = run_sweep(*args, tmp_path / "ray.json", workers=2, executor="ray")
    assert len(local.records) == 4
    assert _records(tmp_path / "ray.json") == _records(tmp_path / "local.json")
    assert remote.summary() == local.summary()


@needs_ray
def test_a_sweep_begun_on_ray_resumes_with_the_local_executor(ray_instance, tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    run_sweep(TINY, ("rnn",), (3,), (0,), path, executor="ray")
    resumed = run_sweep(TINY, ("rnn",), (3,), (0, 1), path, workers=1)
    assert resumed.skipped == 1
    assert [r["seed"] for r in resumed.records] == [0, 1]
    run_sweep(TINY, ("rnn",), (3,), (0, 1), tmp_path / "fresh.json", workers=1)
    assert _records(path) == _records(tmp_path / "fresh.json")


def _die_once(item: tuple[str, int]) -> int:
    """A job whose first attempt kills its own worker process (as the kernel's OOM killer would)."""
    marker, value = item
    if not os.path.exists(marker):
        Path(marker).write_text("died once")
        os._exit(1)
    return value * 10


@needs_ray
def test_a_killed_workers_job_is_run_again(ray_instance, tmp_path: Path) -> None:
    done: list[tuple] = []
    items = [(str(tmp_path / "a"), 1), (str(tmp_path / "b"), 2)]
    run_on_ray(_die_once, items, lambda item, result: done.append((item[1], result)))
    assert sorted(done) == [(1, 10), (2, 20)]
    assert (tmp_path / "a").read_text() == "died once"


def _refuse(item: int) -> int:
    raise ConfigError(f"job {item} refused")


@needs_ray
def test_a_jobs_own_error_reaches_the_driver_as_itself(ray_instance) -> None:
    with pytest.raises(ConfigError, match="job 7 refused"):
        run_on_ray(_refuse, [7], lambda item, result: None)


@needs_ray
def test_cli_palindrome_sweep_on_ray(ray_instance, tmp_path: Path, capsys) -> None:
    code = main(
        ["palindrome-sweep", "--models", "rnn", "--lengths", "3", "--seeds", "1", "--steps", "10", "--hidden-size", "8",
         "--batch-size", "8", "--executor", "ray", "--out", str(tmp_path), "--quiet", "--format", "json"]
    )  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 0
    assert len(_records(tmp_path / "sweep.json")) == 1


def _cli_error(capsys, *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize("command", [["palindrome-sweep"], ["optimizers"]])
def test_executor_ray_without_ray_says_how_to_install_it(command, monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when it is not installed
    err = _cli_error(capsys, *command, "--executor", "ray", "--out", str(tmp_path / "out"), "--quiet")
    assert "pip install 'gnnhw[ray]'" in err
    assert not (tmp_path / "out").exists()


def test_address_without_the_ray_executor_is_refused(tmp_path: Path, capsys) -> None:
    err = _cli_error(capsys, "palindrome-sweep", "--address", "10.0.0.1:6379", "--out", str(tmp_path / "o"))
    assert "--executor ray" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_ray
@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}", "nohost", "h:99999"])
def test_an_unreachable_or_malformed_address_is_one_line_at_once(address: str, tmp_path: Path, capsys) -> None:
    start = time.monotonic()
    err = _cli_error(
        capsys, "palindrome-sweep", "--executor", "ray", "--address", address.format(port=_free_port()),
        "--out", str(tmp_path / "o"), "--quiet",
    )  # fmt: skip
    assert time.monotonic() - start < 30
    assert "--address" in err or "cannot reach" in err
    assert not (tmp_path / "o").exists()


@needs_ray
def test_an_address_that_is_not_ray_fails_within_the_timeout(monkeypatch) -> None:
    import gnnhw.executors as executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 3.0)
    with socket.socket() as server:  # accepts connections and never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ExecutorError, match="no answer from a Ray cluster") as err:
            executors._probe(address, executors.CONNECT_TIMEOUT)  # what ray_session asks before joining
    assert time.monotonic() - start < 15
    assert "\n" not in str(err.value)


def test_check_executor_refuses_unknown_names() -> None:
    with pytest.raises(ExecutorError, match="unknown executor"):
        check_executor("dask")


@needs_ray
def test_multi_seed_train_gcn_on_ray_equals_local(ray_instance) -> None:
    from gnnhw.graph.config import TrainConfig
    from gnnhw.graph.sbm import load_dataset
    from gnnhw.graph.train import train_planetoid

    config = TrainConfig(dataset="sbm:200:1000:2", epochs=5, seeds=2)
    data = load_dataset(config.dataset)
    local = train_planetoid(config, data=data)
    remote = train_planetoid(config, data=data, executor="ray")
    assert [r.seed for r in remote.runs] == [0, 1]
    for a, b in zip(local.runs, remote.runs, strict=True):
        assert a.history == b.history
    assert remote.best_seed == local.best_seed
    for key, value in local.best_state.items():
        assert torch.equal(remote.best_state[key], value)


@needs_ray
def test_depth_study_on_ray_equals_local(ray_instance) -> None:
    from gnnhw.graph.config import DepthConfig
    from gnnhw.graph.depth import run_depth_study

    config = DepthConfig(dataset="sbm:200:1000:2", depths=(1, 2), variants=("plain", "jk"), epochs=3, seeds=2)
    local = run_depth_study(config)
    remote = run_depth_study(config, executor="ray")
    assert _without_seconds(remote) == _without_seconds(local)


def _without_seconds(result) -> list:
    return [(r.variant, r.num_layers, r.test_acc, r.distance) for r in result.rows]


@needs_ray
def test_gnn_vs_rnn_on_ray_equals_local(ray_instance) -> None:
    from gnnhw.experiments.config import GNNvsRNNConfig
    from gnnhw.experiments.gnn_vs_rnn import run_gnn_vs_rnn

    config = GNNvsRNNConfig(
        lengths=(3,), depths=(1, 2), seeds=1, steps=3, batch_size=8, test_size=20, rnn_hidden_size=4
    )
    local = run_gnn_vs_rnn(config)
    remote = run_gnn_vs_rnn(config, executor="ray")

    def key(result) -> list:
        return [(r.model, r.length, r.seed, r.num_layers, r.test_accuracy, r.steps) for r in result.runs]

    assert key(remote) == key(local)


@pytest.mark.parametrize(
    "command",
    [
        ["train-gcn", "--dataset", "sbm:100:200"],
        ["depth-study", "--dataset", "sbm:100:200"],
        ["gnn-vs-rnn"],
    ],
)
def test_every_command_with_executor_ray_says_how_to_install_ray(command, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    err = _cli_error(capsys, *command, "--executor", "ray", "--quiet")
    assert "pip install 'gnnhw[ray]'" in err
