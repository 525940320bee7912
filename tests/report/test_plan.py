"""The report's commands: built with the option names each command accepts, and valid for today's CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from gnnhw.cli import build_parser
from gnnhw.cli.report import _ParserOptions
from gnnhw.errors import ConfigError
from gnnhw.report.plan import BUDGETS, Budget, budget, build_plan


class FakeOptions:
    """A CLI whose commands accept exactly ``flags`` (``--seeds`` a list when ``seeds_list``)."""

    def __init__(self, flags: set[str], seeds_list: bool) -> None:
        self.flags = flags
        self.seeds_list = seeds_list

    def accepts(self, command: Sequence[str], flag: str) -> bool:
        return flag in self.flags

    def takes_list(self, command: Sequence[str], flag: str) -> bool:
        return flag == "--seeds" and self.seeds_list


COMMON = {
    "--model", "--length", "--lengths", "--json", "--plot", "--format", "--models", "--steps", "--workers", "--out",
    "--quiet", "--optimizers", "--text", "--eval-every", "--sample-at", "--checkpoint", "--start", "--greedy",
    "--temperature", "--prompt", "--beam", "--example", "--normalized", "--source", "--target", "--dataset",
    "--data-root", "--epochs", "--threads", "--depths", "--variants", "--seeds",
}  # fmt: skip


def _sweep_argv(options: FakeOptions) -> list[str]:
    plan = build_plan(BUDGETS["quick"], options, Path("/data"))
    return list(next(e for e in plan if e.key == "sweep").steps[0].argv)


def test_seeds_as_a_count_with_the_first_seed_where_the_command_counts():
    argv = _sweep_argv(FakeOptions(COMMON | {"--seed"}, seeds_list=False))
    i = argv.index("--seeds")
    assert argv[i + 1] == str(BUDGETS["quick"].sweep_seeds)
    assert argv[argv.index("--seed") + 1] == "0"


def test_seeds_as_a_list_where_the_command_takes_one():
    argv = _sweep_argv(FakeOptions(COMMON | {"--seed"}, seeds_list=True))
    i = argv.index("--seeds")
    assert argv[i + 1 : i + 1 + BUDGETS["quick"].sweep_seeds] == [str(s) for s in range(BUDGETS["quick"].sweep_seeds)]
    assert "--seed" not in argv


def test_the_current_name_is_preferred_over_an_older_one():
    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--seed", "--first-seed"}, False), Path("/d"))
    argv = next(e for e in plan if e.key == "planetoid").steps[0].argv
    assert "--seed" in argv
    assert "--first-seed" not in argv


def test_an_older_name_is_used_when_the_command_has_only_it():
    plan = build_plan(BUDGETS["quick"], FakeOptions(COMMON | {"--first-seed"}, False), Path("/d"))
    argv = next(e for e in plan if e.key == "planetoid").steps[0].argv
    assert "--first-seed" in argv


def test_an_option_no_name_of_which_exists_is_a_config_error_naming_the_table():
    with pytest.raises(ConfigError, match="OPTION_NAMES"):
        build_plan(BUDGETS["quick"], FakeOptions(COMMON - {"--sample-at"} | {"--seed"}, False), Path("/d"))


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_every_command_of_every_budget_parses_with_the_real_cli(name: str):
    parser = build_parser()
    plan = build_plan(BUDGETS[name], _ParserOptions(), Path("/data"))
    for exp in plan:
        for step in exp.steps:
            args = parser.parse_args(list(step.argv))  # a bad option exits 2 (SystemExit) here
            assert args.func is not None


def test_settings_hash_changes_with_any_argument_and_only_then():
    a = build_plan(BUDGETS["quick"], _ParserOptions(), Path("/data"))
    b = build_plan(BUDGETS["quick"], _ParserOptions(), Path("/data"))
    c = build_plan(BUDGETS["quick"], _ParserOptions(), Path("/other"))
    assert [e.settings_hash() for e in a] == [e.settings_hash() for e in b]
    changed = {e.key for e, f in zip(a, c, strict=True) if e.settings_hash() != f.settings_hash()}
    assert changed == {"textgen", "planetoid", "depth"}  # the experiments that read the data root


def test_unknown_budget_is_a_config_error_naming_the_budgets():
    with pytest.raises(ConfigError, match="quick, standard, full"):
        budget("fast")


def test_budgets_grow_from_quick_to_full():
    q, s, f = (BUDGETS[n] for n in ("quick", "standard", "full"))
    for field in ("sweep_steps", "sweep_seeds", "text_steps", "grads_steps"):
        assert getattr(q, field) <= getattr(s, field) <= getattr(f, field), field
    assert f.sweep_steps == 10000  # the assignment's
    assert s.sweep_seeds >= 5  # issue 12: at least 5 seeds in the standard budget
    assert isinstance(q, Budget)
