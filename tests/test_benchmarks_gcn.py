"""Smoke test of benchmarks/gcn_layer.py on tiny graphs (the real run is `python benchmarks/gcn_layer.py`)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import gcn_layer


def test_all_configurations_compute_the_same_layer() -> None:
    assert gcn_layer.check_agreement(gcn_layer.QUICK_CASES["cora"]) < 1e-4


def test_quick_run_writes_a_table_and_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert gcn_layer.main(["--quick", "--repeats", "1", "--threads", "1", "--no-subprocess", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "speed-up over pyg edge_index" in printed
    assert "pyg adj_t (CSR)" in printed
    rows = json.loads(out.read_text())["rows"]
    assert {(r["case"], r["config"]) for r in rows} == {
        (case, config) for case in gcn_layer.QUICK_CASES for config in gcn_layer.CONFIGS
    }
    assert all(r["median_ms"] > 0 for r in rows)
    assert all(r["peak_mib"] >= 0 for r in rows)


def test_one_configuration_in_a_fresh_process() -> None:
    row = gcn_layer.measure("cora", gcn_layer.QUICK_CASES["cora"], "gnnhw edge_index", repeats=1, threads=1)
    assert row.median_ms > 0
    assert row.peak_mib >= 0
