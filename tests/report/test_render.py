"""The report's sentences follow the measured numbers (no claim the numbers do not make), and its pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnnhw.errors import ResultsFileError
from gnnhw.report.plan import BUDGETS, build_plan
from gnnhw.report.render import Section, Table, _bimodal, _lstm_vs_rnn, build_sections, to_html, to_markdown
from tests.report.test_plan import COMMON, FakeOptions


def test_lstm_better_is_said_only_when_it_solves_more_seeds():
    rnn = {5: [1.0, 1.0], 20: [0.1, 0.1]}
    lstm = {5: [1.0, 1.0], 20: [1.0, 0.1]}
    assert _lstm_vs_rnn(rnn, lstm).startswith("The LSTM solves more seeds at T = 20.")
    assert "solve the same seeds" in _lstm_vs_rnn(rnn, rnn)
    assert "not settled" in _lstm_vs_rnn(lstm, rnn)


def test_either_solved_or_chance_is_said_only_when_no_run_ends_in_between():
    assert "each seed either solves a length or fails it" in _bimodal({5: [1.0, 0.1], 10: [0.12, 0.995]})
    mixed = _bimodal({5: [1.0, 0.5]})
    assert "1 end in between" in mixed
    assert "either" not in mixed


def test_a_missing_output_is_one_line_naming_it(tmp_path: Path):
    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    with pytest.raises(ResultsFileError, match="bptt.json") as err:
        build_sections(tmp_path, plan, BUDGETS["quick"])
    assert "\n" not in str(err.value)


def _section(figure: str) -> Section:
    return Section(
        "q9-9",
        "Q9.9 — a <question> & more",
        ["Answer 0.5 |x|."],
        [Table(["a|b", "c"], [["1", "2"]], "cap")],
        [(figure, "fig")],
        [("sample", "text <b>")],
        ["gnnhw adjacency --example"],
    )


def test_html_embeds_figures_and_escapes_text(tmp_path: Path):
    (tmp_path / "f.png").write_bytes(b"\x89PNG fake")
    page = to_html([_section("f.png")], ["header"], tmp_path)
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in page
    assert "a &lt;question&gt; &amp; more" in page
    assert "text &lt;b&gt;" in page
    assert 'id="q9-9"' in page


def test_html_says_when_a_figure_is_missing(tmp_path: Path):
    assert "figure gone.png is missing" in to_html([_section("gone.png")], [], tmp_path)


def test_markdown_has_anchor_table_figure_and_command():
    md = to_markdown([_section("f.png")], ["header"])
    assert '<a id="q9-9"></a>' in md
    assert "| a\\|b | c |" in md
    assert "![fig](f.png)" in md
    assert "```sh\ngnnhw adjacency --example\n```" in md


def _optimizers_run(accuracies: list[float], losses: list[float]) -> dict:
    steps = [10 * (i + 1) for i in range(len(accuracies))]
    return {
        "test_accuracy": accuracies[-1],
        "steps": steps[-1],
        "curve_steps": steps,
        "train_accuracy": accuracies,
        "train_loss": losses,
    }


def test_optimizers_answer_says_per_learning_rate_what_each_run_did(tmp_path: Path):
    import json

    from gnnhw.report.render import _Outputs, _q1_4

    plan = build_plan(BUDGETS["standard"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    steps = next(e for e in plan if e.key == "optimizers").steps
    assert [s.name for s in steps] == ["lr0.001", "lr0.05"]
    outcomes = {
        "lr0.001": {
            "sgd": _optimizers_run([0.1, 0.1, 0.1], [2.3, 2.3, 2.3]),
            "adam": _optimizers_run([0.5, 0.995, 1.0], [2.3, 0.5, 0.01]),
            "rmsprop": _optimizers_run([0.2, 0.4, 0.5], [2.3, 1.9, 1.5]),
        },
        "lr0.05": {
            "sgd-momentum": _optimizers_run([0.3, 1.0, 1.0], [2.3, 0.2, 0.01]),
            "adam": _optimizers_run([0.1, 0.1, 0.08], [2.3, 5.0, 6.4]),
        },
    }
    for name, runs in outcomes.items():
        folder = tmp_path / "optimizers" / name
        folder.mkdir(parents=True)
        lr = float(name[2:])
        config = {"model": "rnn", "length": 10, "lr": lr, "train_steps": 30}
        (folder / "optimizers.json").write_text(json.dumps({"config": config, "runs": runs}))
    section = _q1_4(_Outputs(tmp_path, plan))
    first = section.answer[0]
    assert "vanilla RNN" in first
    assert (
        "at lr 0.001, adam (training accuracy 0.99 by step 20) solves the task; sgd stays near chance; "
        "rmsprop (test accuracy 0.500) gets part of the way;" in first
    )
    assert "at lr 0.05, sgd-momentum (training accuracy 0.99 by step 20) solves the task; adam" in first
    assert "adam (6.4) ends with a training loss above a uniform guess's (ln 10 = 2.30)" in first
    assert [row[:3] for row in section.tables[0].rows] == [
        ["0.001", "sgd", "0.100"],
        ["0.001", "adam", "1.000"],
        ["0.001", "rmsprop", "0.500"],
        ["0.05", "sgd-momentum", "1.000"],
        ["0.05", "adam", "0.080"],
    ]
    assert [f for f, _ in section.figures] == ["optimizers/lr0.001/optimizers.png", "optimizers/lr0.05/optimizers.png"]


def test_optimizers_answer_names_every_run_whatever_it_did(tmp_path: Path):
    """A run that partly learns, one whose loss blew up before the first log (as RMSprop does at lr 10: its
    first logged loss is already thousands), one whose loss became NaN (null in the JSON): each is named."""
    import json

    from gnnhw.report.render import _Outputs, _q1_4

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    (step,) = next(e for e in plan if e.key == "optimizers").steps
    runs = {
        "sgd": _optimizers_run([0.2, 0.4, 0.45], [2.3, 1.6, 1.2]),
        "rmsprop": _optimizers_run([0.1, 0.3, 0.447], [2938.2, 3590.6, 1591.7]),
        "adam": _optimizers_run([0.1, None, None], [2.3, None, None]) | {"test_accuracy": None},
        "sgd-momentum": _optimizers_run([0.995, 1.0], [0.1, 0.01]) | {"curve_steps": [0, 10]},
    }
    folder = tmp_path / "optimizers" / step.name
    folder.mkdir(parents=True)
    config = {"model": "rnn", "length": 5, "lr": 0.001, "train_steps": 20}
    (folder / "optimizers.json").write_text(json.dumps({"config": config, "runs": runs}))
    first = _q1_4(_Outputs(tmp_path, plan)).answer[0]
    assert "sgd (test accuracy 0.450) gets part of the way" in first
    assert "rmsprop (1.59e+03), adam (nan) end with a training loss above a uniform guess's" in first
    assert "sgd-momentum (training accuracy 0.99 by step 0) solves the task" in first


def _bptt_outputs(tmp_path: Path, rnn: dict, lstm: dict) -> str:
    import json

    from gnnhw.report.render import _Outputs, _q1_1

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    base = {
        "length": 3,
        "max_abs_diff": {"W_hh": 1e-16, "W_ph": 2e-16},
        "grad_max_abs": {"W_hh": 0.5, "W_ph": 0.25},
        "contributions": [0.1, 0.2, 0.4],
        "tolerance": 1e-10,
        "agrees": True,
    }
    (tmp_path / "bptt").mkdir()
    (tmp_path / "bptt" / "bptt.json").write_text(json.dumps(base | rnn))
    (tmp_path / "bptt" / "bptt_lstm.json").write_text(json.dumps(base | {"forget_bias": 1.0} | lstm))
    return " ".join(_q1_1(_Outputs(tmp_path, plan)).answer)


def test_bptt_answer_says_equal_only_when_the_check_agrees(tmp_path: Path):
    text = _bptt_outputs(tmp_path, {"max_abs_diff": {"W_hh": 3e-2, "W_ph": 1e-16}, "agrees": False}, {})
    assert "the vanilla RNN DIFFER from autograd's by up to 3.0e-02" in text
    assert "the vanilla RNN equal" not in text
    assert "(forget bias 1) equal autograd's to within 2.0e-16" in text


def test_bptt_answer_says_equal_only_within_the_tolerance_even_without_a_verdict(tmp_path: Path):
    text = _bptt_outputs(tmp_path, {}, {"max_abs_diff": {"W_hh": None, "W_ph": 1e-16}, "agrees": None})
    assert "(forget bias 1) DIFFER from autograd's by up to nan" in text


@pytest.mark.parametrize(
    ("norms", "said"),
    [
        ([0.5, 1.0, 2.0], "‖dL/dc_t‖ falls from 2.00e+00 at t = 3 to 5.00e-01 at t = 1 (a factor 4 over 2 steps)"),
        ([2.0, 1.0, 0.5], "‖dL/dc_t‖ grows from 5.00e-01 at t = 3 to 2.00e+00 at t = 1 (a factor 4 over 2 steps)"),
        ([0.0, 1.0, 2.0], "‖dL/dc_t‖ falls from 2.00e+00 at t = 3 to 0.00e+00 at t = 1."),
        ([1.0, 1.0], "‖dL/dc_t‖ stays 1.00e+00 from t = 2 back to t = 1."),
    ],
)
def test_bptt_answer_says_which_way_the_lstm_memory_gradient_goes(tmp_path: Path, norms: list, said: str):
    assert said in _bptt_outputs(tmp_path, {}, {"cell_grad_norms": norms})


def test_bptt_answer_with_undefined_memory_gradients_says_nothing_of_them(tmp_path: Path):
    text = _bptt_outputs(tmp_path, {}, {"cell_grad_norms": [None, 1.0]})
    assert "‖dL/dc_t‖" not in text


def _graph_outputs(tmp_path: Path, key: str, name: str, payload: dict) -> None:
    import json

    (tmp_path / key).mkdir(exist_ok=True)
    (tmp_path / key / name).write_text(json.dumps(payload))


def _quick_plan():
    return build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))


@pytest.mark.parametrize(("residual", "helps"), [(0.7, True), (0.2, False), (0.3, False)])
def test_depth_answer_says_a_remedy_helps_only_when_it_beats_the_plain_gcn(tmp_path: Path, residual, helps):
    from gnnhw.report.render import _Outputs, _q3_1

    rows = [
        {"variant": v, "num_layers": d, "test_acc_mean": acc, "distance_mean": 1.0}
        for v, d, acc in [("plain", 1, 0.8), ("plain", 8, 0.3), ("residual", 1, 0.8), ("residual", 8, residual)]
    ]
    _graph_outputs(tmp_path, "depth", "depth.json", {"rows": rows})
    text = " ".join(_q3_1(_Outputs(tmp_path, _quick_plan())).answer)
    assert ("keeping the deep network usable" in text) is helps
    assert (f"residual {residual:.3f} does not do better" in text) is not helps
    assert "against the plain GCN's 0.300" in text


@pytest.mark.parametrize("seeds", [1, 3])
def test_planetoid_answer_speaks_of_a_std_only_over_several_seeds(tmp_path: Path, seeds: int):
    from gnnhw.report.render import _Outputs, _q3_3

    plan = _quick_plan()
    for step in plan[[e.key for e in plan].index("planetoid")].steps:
        std = 0.01 if seeds > 1 else None
        _graph_outputs(
            tmp_path,
            "planetoid",
            f"{step.name}.json",
            {"dataset": step.name, "test_acc_mean": 0.8, "test_acc_std": std, "seeds": seeds},
        )
    text = " ".join(_q3_3(_Outputs(tmp_path, plan)).answer)
    assert ("std" in text) is (seeds > 1)
    assert ("(1 seed)" in text) is (seeds == 1)


def test_a_text_block_holding_a_code_fence_stays_one_block():
    """A generated sample or a command's output with ``` in it must not close the block and spill as Markdown."""
    sample = "once upon a time\n```\n# not a heading\n````x"
    md = to_markdown([Section("q9-9", "Q", ["a"], texts=[("sample", sample)])], [])
    block = md.split("*sample*\n\n", 1)[1]
    fence = block.split("text\n", 1)[0]
    assert block.startswith(f"{fence}text\n{sample}\n{fence}\n")
    assert set(fence) == {"`"}
    assert len(fence) > 4
