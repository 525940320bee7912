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
    assert "too long at lr 0.05 here: each method needs its own learning rate." in section.answer[2]
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

    from gnnhw.report.render import _check_rendered, _Outputs, _q1_4

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
    section = _q1_4(_Outputs(tmp_path, plan))
    first = section.answer[0]
    assert "sgd (test accuracy 0.450) gets part of the way" in first
    assert "rmsprop (1.59e+03) and adam (not finite) end with a training loss above a uniform guess's" in first
    assert "sgd-momentum (training accuracy 0.99 by step 0) solves the task" in first
    _check_rendered(section)  # a diverged run is a measurement: said in words, never refused as 'nan'
    assert ["0.001", "adam", "—", "not finite"] == section.tables[0].rows[2][:4]


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
    assert ("stays well above the plain GCN's" in text) is helps
    assert (f"residual ({residual:.3f}) does not" in text) is not helps
    assert ("make a deep GCN usable" in text) is helps
    assert "0.300" in text  # the plain GCN's accuracy at the deepest depth, the yardstick


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


def test_the_raw_digit_remark_claims_no_comparison_that_was_not_run():
    from gnnhw.report.render import _raw_digit_remark

    text = _raw_digit_remark({5: [1.0, 1.0], 10: [1.0, 0.2]}, BUDGETS["standard"])
    assert "helps" not in text
    assert "solves every seed up to T = 5" in text
    assert "not compared" in text


def test_q1_7_says_the_trained_models_are_at_chance_only_when_they_are():
    from gnnhw.report.render import _trained_accuracy

    at_chance = _trained_accuracy({"rnn": {"test_accuracy": 0.1}, "lstm": {"test_accuracy": 0.116}})
    assert "0.100 (RNN) and 0.116 (LSTM)" in at_chance
    assert "neither model has learned" in at_chance
    learned = _trained_accuracy({"rnn": {"test_accuracy": 0.1}, "lstm": {"test_accuracy": 0.98}})
    assert "learned" not in learned
    assert _trained_accuracy({}) == ""


def test_other_students_accuracy_is_explained_only_as_far_as_the_training_accuracy_allows():
    from gnnhw.report.render import _others_accuracy_remark

    below = _others_accuracy_remark(0.557, 0.544, 5000)
    assert "0.544 on the held-out text after 5,000 steps and at 0.557 on its training batches" in below
    assert "does not explain the gap" in below
    assert "probably" not in below
    near = _others_accuracy_remark(0.65, 0.55, 5000)
    assert "mostly which text the accuracy is measured on" in near
    assert "does not explain" not in near
    short = _others_accuracy_remark(0.3, 0.3, 60)
    assert "not comparable" in short
    assert "explain" not in short


def test_the_greedy_loop_is_said_only_when_the_longer_sample_repeats_more():
    from gnnhw.report.render import _greedy_lengths

    loop = _greedy_lengths({30: "abcdefghijklmnopqrstuvwxyz0123", 100: "the sea " * 12 + "the "})
    assert "0.000 for 30 characters" in loop
    assert "the longer the sample, the more of it is that loop" in loop
    flat = _greedy_lengths({30: "the sea the sea the sea the sea", 100: "abcdefghijklmnopqrstuvwxyz" * 3 + "x" * 22})
    assert "loop" not in flat
    assert "does not repeat itself more" in flat


def test_temperature_claims_follow_the_counts():
    from gnnhw.report.render import _temperature_finding

    samples = {0.5: "q!zX kj?Wp,;a", 1.0: "the king went", 2.0: "the the the t"}
    shown = _temperature_finding(13, "the the the t", samples)
    assert shown.startswith("Measured on 13-character samples: τ = 0.5 uses 13 distinct characters")
    assert "the most varied text" in shown
    assert "τ = 2 uses 4 and greedy 4, so the flattest" in shown
    assert "is no higher than the samples'" in shown  # τ = 2 repeats as much as greedy
    varied = _temperature_finding(13, "the the the t", {0.5: "q!zX kj?Wp,;a", 2.0: "the king went"})
    assert "greedy repeats itself most" in varied


def _depth(acc: dict[int, float]) -> dict[int, dict[str, float]]:
    return {d: {"test_acc_mean": a} for d, a in acc.items()}


def test_remedies_are_credited_only_where_their_accuracy_shows_it():
    from gnnhw.report.render import _remedies

    plain = _depth({2: 0.818, 16: 0.387})
    text = _remedies(plain, {"residual": _depth({2: 0.818, 16: 0.742}), "pairnorm": _depth({2: 0.78, 16: 0.39})})
    assert "at 16 layers residual (0.742) stays well above the plain GCN's 0.387" in text
    assert "pairnorm (0.390) does not (at 16 layers)" in text
    assert "None beats the best plain GCN (0.818 at 2 layers) by more than 0.01" in text
    better = _remedies(plain, {"jk": _depth({2: 0.84, 16: 0.80})})
    assert "The best remedy, jk at 2 layers (0.840), beats the best plain GCN (0.818)." in better
    assert "None beats" not in better
    none = _remedies(plain, {"pairnorm": _depth({2: 0.7, 16: 0.38})})
    assert "stays well above" not in none
    assert "keep" not in none


def test_q1_1_names_the_step_of_the_earliest_non_zero_term(tmp_path: Path):
    import json

    from gnnhw.report.render import _Outputs, _q1_1

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    run = {"length": 4, "max_abs_diff": {"weight_ph": 1e-17}, "grad_max_abs": {"weight_ph": 0.1}}
    (tmp_path / "bptt").mkdir()
    (tmp_path / "bptt" / "bptt.json").write_text(json.dumps(run | {"contributions": [0.0, 1e-4, 1e-2, 1e-1]}))
    (tmp_path / "bptt" / "bptt_lstm.json").write_text(json.dumps(run | {"contributions": [], "forget_bias": 1}))
    answer = " ".join(_q1_1(_Outputs(tmp_path, plan)).answer)
    assert "is 1e+03 times the earliest non-zero one's (t = 2, 1.00e-04; t = 1's term is 0 since h_0 = 0)" in answer
    assert "the early terms vanish" in answer


@pytest.mark.parametrize(
    ("lstm_steps", "said", "cut_off"),
    [
        ((300, 300, 300), "T = 5, 10 and 15 (3 of the 3 lengths both solved)", True),
        ((300, 50, 50), "T = 5 (1 of the 3", False),
    ],
)
def test_q1_6_says_the_budget_cuts_the_lstm_off_only_when_it_is_slower_at_most_lengths(
    tmp_path: Path, lstm_steps: tuple[int, ...], said: str, cut_off: bool
):
    import json

    from gnnhw.report.render import _Outputs, _q1_6

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    records = [
        {"model": m, "length": t, "seed": 0, "test_accuracy": 1.0, "steps": n}
        for m, per in (("rnn", (100, 100, 100)), ("lstm", lstm_steps))
        for t, n in zip((5, 10, 15), per, strict=True)
    ]
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps({"records": records}))
    answer = " ".join(_q1_6(_Outputs(tmp_path, plan), BUDGETS["quick"]).answer)
    assert said in answer
    assert ("cuts the LSTM off first" in answer) == cut_off


def _standard_gnn_vs_rnn() -> tuple[dict, dict, list]:
    ks = ("1", "2", "4", "6", "8", "12")
    gcn = {
        "5": dict(zip(ks, (0.099, 0.094, 0.996, 0.999, 1.0, 1.0), strict=True)),
        "7": dict(zip(ks, (0.101, 0.099, 0.102, 0.096, 0.989, 0.988), strict=True)),
        "10": dict(zip(ks, (0.1, 0.091, 0.097, 0.095, 0.092, 0.092), strict=True)),
    }
    influence = {
        "5": dict(zip(ks, (0, 0, 0.016, 0.047, 0.082, 0.17), strict=True)),
        "7": dict(zip(ks, (0, 0, 0, 0.00069, 0.0032, 0.014), strict=True)),
        "10": dict(zip(ks, (0, 0, 0, 0, 0, 6e-05), strict=True)),
    }
    inside = [(t, int(k), v) for t, per in influence.items() for k, v in per.items() if int(k) >= int(t) - 1]
    return gcn, influence, inside


def test_q3_4_says_inside_is_not_enough_only_where_a_depth_inside_the_field_fails():
    from gnnhw.report.render import _influence_finding

    gcn, influence, inside = _standard_gnn_vs_rnn()
    text = _influence_finding(gcn, influence, inside)
    assert text.startswith("Inside the receptive field is not yet enough: T = 7, k = 6 (0.096) and T = 10, k = 12")
    assert "0.016 for T = 5, k = 4; 0.00069 for T = 7, k = 6; 6e-05 for T = 10, k = 12" in text
    assert text.endswith("more layers (more walks from node 1 to node T) raise it again.")
    solved = {t: dict.fromkeys(per, 1.0) for t, per in gcn.items()}
    assert _influence_finding(solved, influence, inside).startswith("Every depth inside the receptive field")
    one = {t: {k: (0.5 if (t, k) == ("7", "6") else 1.0) for k in per} for t, per in gcn.items()}
    assert "T = 7, k = 6 (0.500) stays below 0.9" in _influence_finding(one, influence, inside)
    falling = {t: {k: (0.5 if int(k) == int(t) - 1 else 0.01) for k in per} for t, per in influence.items()}
    assert "raise it again" not in _influence_finding(gcn, falling, inside)


def test_q1_5_states_the_count_agreement_as_counted(tmp_path: Path):
    import json

    from gnnhw.report.render import _Outputs, _q1_5

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps({"base": {"hidden_size": 8, "input_size": 10}}))
    answer = " ".join(_q1_5(_Outputs(tmp_path, plan)).answer)
    # 4(10·8 + 64 + 8) = 608 gate parameters, 8·10 + 10 = 90 for the output layer; torch: 4·8 = 32 more biases
    assert "4(dn + n² + n) = 608 parameters, plus 90 for the output layer (W_ph, b_p): 698 in all, the number" in answer
    assert "640 for the cell, 4n = 32 more than the formula." in answer


@pytest.mark.parametrize(("seeds", "said"), [(1, "Cora 0.754 (1 seed)."), (3, "Cora 0.800 ± 0.010 (mean ± sample")])
def test_q3_3_names_the_std_only_when_there_is_one(tmp_path: Path, seeds: int, said: str):
    import json

    from gnnhw.report.render import _Outputs, _q3_3

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    (tmp_path / "planetoid").mkdir()
    mean = 0.754 if seeds == 1 else 0.8
    for step in next(e for e in plan if e.key == "planetoid").steps:
        result = {"dataset": step.name, "test_acc_mean": mean, "test_acc_std": 0.01, "seeds": seeds}
        (tmp_path / "planetoid" / f"{step.name}.json").write_text(json.dumps(result))
    answer = " ".join(_q3_3(_Outputs(tmp_path, plan)).answer)
    assert said in answer
    assert ("sample std" in answer) == (seeds > 1)


@pytest.mark.parametrize("payload", [{}, [], {"max_abs_diff": 5}, {"max_abs_diff": {}, "contributions": "x"}])
def test_a_malformed_output_is_one_line_naming_the_question(tmp_path: Path, payload):
    import json

    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    (tmp_path / "bptt").mkdir()
    (tmp_path / "bptt" / "bptt.json").write_text(json.dumps(payload))
    with pytest.raises(ResultsFileError, match="Q1.1") as err:
        build_sections(tmp_path, plan, BUDGETS["quick"])
    assert "\n" not in str(err.value)
    assert "rerun 'gnnhw report'" in str(err.value)


def _failing(exc: BaseException):
    def build(*args, **kwargs):
        raise exc

    return build


@pytest.mark.parametrize(
    "exc", [StopIteration(), OverflowError("cannot convert float infinity to integer"), LookupError("x")]
)
def test_any_error_a_malformed_value_raises_is_one_line_naming_the_question(tmp_path: Path, monkeypatch, exc):
    # next(iter({})) on an empty mapping, int() of a huge number: not only KeyError or TypeError
    import gnnhw.report.render as render

    monkeypatch.setattr(render, "_q1_1", _failing(exc))
    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    with pytest.raises(ResultsFileError, match="Q1.1") as err:
        build_sections(tmp_path, plan, BUDGETS["quick"])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "answer, cell",
    [
        ("The gradient at T = None decays.", "0.5"),
        ("accuracy nan at every depth", "0.5"),
        ("loss inf after 5 steps", "0.5"),
        ("lengths [] solved", "0.5"),
        ("a diameter of {} edges", "0.5"),
        ("solved at True", "0.5"),
        ("test accuracy 0.815 (mean of 0 seeds)", "0.5"),
        ("over -1 runs", "0.5"),
        ("fine", "None"),
        ("fine", "nan"),
        ("fine", "-inf"),
        ("fine", 0.5),
    ],
)
def test_a_section_showing_a_value_that_is_no_measurement_is_refused(tmp_path: Path, monkeypatch, answer, cell):
    # a null, a string or a container where a number is read renders without an error: 'T = None'
    import gnnhw.report.render as render

    section = Section("q1-1", "Q1.1", [answer], [Table(["x"], [[cell]])])
    monkeypatch.setattr(render, "_q1_1", lambda o: section)
    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    with pytest.raises(ResultsFileError, match="Q1.1") as err:
        build_sections(tmp_path, plan, BUDGETS["quick"])
    assert "\n" not in str(err.value)


def test_english_none_opening_a_sentence_and_generated_text_are_not_refused(tmp_path: Path, monkeypatch):
    import gnnhw.report.render as render

    answer = ["None beats the best plain GCN (0.8). True, it is close."]
    section = Section("q1-1", "Q1.1", answer, [Table(["sample"], [["None of them inf"]])], texts=[("t", "nan [] {}")])
    monkeypatch.setattr(render, "_q1_1", lambda o: section)
    monkeypatch.setattr(render, "_q1_2", _failing(ResultsFileError("stop here")))
    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed"}), Path("/data"))
    with pytest.raises(ResultsFileError, match="stop here"):  # Q1.1 passed its check
        build_sections(tmp_path, plan, BUDGETS["quick"])
