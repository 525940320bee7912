"""What the commands print: a mean over runs is shown with its spread only when there is a spread to show.

The sample standard deviation over one run is undefined (the library's JSON says 0.0 for it); printed, it
read ``± 0.00``, a measured spread of nothing. Every table that prints ``mean ± std`` does it through
:func:`gnnhw.cli._common.mean_std`, which prints the value alone for one run; the source check below keeps a
new table from writing its own ``±``.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from gnnhw.cli import planetoid, recurrent
from gnnhw.cli._common import mean_std, over_runs
from gnnhw.graph.config import DepthConfig, TrainConfig
from gnnhw.graph.depth import DepthResult, DepthRow
from gnnhw.graph.train import SeedResult, TrainResult
from gnnhw.recurrent.experiments import SweepResult

CLI = Path(__file__).resolve().parent.parent / "gnnhw" / "cli"


def test_mean_std_shows_the_spread_of_several_runs_only():
    assert mean_std(81.5, 0.523, 2) == "81.50 ± 0.52"
    assert mean_std(0.5, 0.25, 3, ".3f") == "0.500 ± 0.250"
    assert mean_std(81.5, 0.0, 1) == "81.50"
    assert "±" not in mean_std(81.5, 0.0, 1)


def test_over_runs_names_the_count():
    assert over_runs(5) == "mean ± std over 5 seeds"
    assert over_runs(1) == "1 seed, no std"


def test_no_command_prints_plus_minus_of_its_own():
    # a new table formatting f"{mean} ± {std}" itself would print '± 0.00' for one seed again
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\}\s*±", line) and path.name != "_common.py":  # a formatted value, then ±
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_source_check_finds_the_old_form():
    assert re.search(r"\}\s*±", 'f"{100 * result.test_acc_mean:.2f} ± {100 * result.test_acc_std:.2f}"')
    assert re.search(r"\}\s*±", 'f"{row.variant:>9} {100 * row.test_acc_mean:>8.2f} ± "')


def _train_result(accs: list[float]) -> TrainResult:
    runs = [
        SeedResult(seed=i, best_epoch=10, val_acc=0.8, test_acc=acc, test_acc_last=acc - 0.01, seconds_per_epoch=0.1,
                   history={})
        for i, acc in enumerate(accs)
    ]  # fmt: skip
    return TrainResult(TrainConfig(seeds=len(accs)), runs, "cpu", 100.0, "process peak RSS", 4, 2, 0, {})


def _summary_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("test accuracy at best validation epoch"))


def test_train_gcn_one_seed_prints_no_std(capsys):
    planetoid._print_train_table(TrainConfig(), _train_result([0.815]))
    line = _summary_line(capsys.readouterr().out)
    assert "±" not in line
    assert "81.50 (last epoch: 80.50)" in line
    assert line.endswith("1 seed, no std")


def test_train_gcn_several_seeds_print_mean_and_std(capsys):
    accs = [0.81, 0.82, 0.84]
    planetoid._print_train_table(TrainConfig(seeds=3), _train_result(accs))
    line = _summary_line(capsys.readouterr().out)
    std = 100 * statistics.stdev(accs)
    assert f"{100 * statistics.fmean(accs):.2f} ± {std:.2f} (last epoch:" in line
    assert line.endswith("mean ± std over 3 seeds")


def _depth_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"\s+(plain|jk)\s+\d", line)]


@pytest.mark.parametrize("seeds", [1, 3])
def test_depth_study_table_shows_std_only_over_several_seeds(capsys, seeds):
    accs = [0.80, 0.78, 0.83][:seeds]
    rows = [DepthRow("plain", 2, accs, [0.5] * seeds, 0.1), DepthRow("jk", 2, accs[::-1], [0.4] * seeds, 0.1)]
    planetoid._print_depth_table(DepthConfig(seeds=seeds), DepthResult(DepthConfig(seeds=seeds), rows))
    out = capsys.readouterr().out
    assert f"test accuracy ({over_runs(seeds)})" in out.splitlines()[0]
    lines = _depth_rows(out)
    assert len(lines) == 2
    for line in lines:
        assert ("±" in line) == (seeds > 1), line
        assert f"{100 * statistics.fmean(accs):.2f}" in line
    if seeds > 1:
        assert f"± {100 * statistics.stdev(accs):.2f}" in lines[0]


def _sweep(accs: dict[tuple[str, int], list[float]]) -> SweepResult:
    records = [
        {"model": model, "length": length, "seed": seed, "test_accuracy": acc}
        for (model, length), values in accs.items()
        for seed, acc in enumerate(values)
    ]
    return SweepResult(records, {}, 0)


def _sweep_cells(out: str) -> dict[int, list[str]]:
    rows = {}
    for line in out.splitlines():
        if re.match(r"\d+\s", line):
            rows[int(line.split()[0])] = re.findall(r"\d\.\d{3}(?: ± \d\.\d{3})?", line)
    return rows


def test_sweep_table_of_one_seed_prints_no_std(capsys):
    recurrent._print_sweep_table(_sweep({("rnn", 5): [0.9], ("lstm", 5): [1.0], ("rnn", 10): [0.1]}).summary())
    out = capsys.readouterr().out
    assert "±" not in out.split("\n", 1)[1]  # below the heading
    assert "1 seed, no std" in out.splitlines()[0]
    assert _sweep_cells(out) == {5: ["1.000", "0.900"], 10: ["0.100"]}


def test_sweep_table_mixed_counts_shows_std_where_there_is_one(capsys):
    # a sweep stopped part-way: some cells have two seeds, one has one
    recurrent._print_sweep_table(_sweep({("rnn", 5): [0.9, 0.7], ("rnn", 10): [0.1]}).summary())
    out = capsys.readouterr().out
    assert _sweep_cells(out) == {5: [f"0.800 ± {statistics.stdev([0.9, 0.7]):.3f}"], 10: ["0.100"]}
    assert "1 to 2" in out.splitlines()[0]
