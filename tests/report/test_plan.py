"""The report's commands: built with the option names each command accepts, and valid for today's CLI."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pytest

from gnnhw.cli import build_parser
from gnnhw.cli.report import _ParserOptions
from gnnhw.errors import ConfigError
from gnnhw.report.plan import BUDGETS, Budget, budget, build_plan


class FakeOptions:
    """A CLI whose commands accept exactly ``flags``."""

    def __init__(self, flags: set[str]) -> None:
        self.flags = flags

    def accepts(self, command: Sequence[str], flag: str) -> bool:
        return flag in self.flags


COMMON = {
    "--model", "--length", "--lengths", "--json", "--plot", "--format", "--models", "--steps", "--workers", "--out",
    "--quiet", "--optimizers", "--text", "--eval-every", "--sample-at", "--checkpoint", "--start", "--greedy",
    "--temperature", "--prompt", "--beam", "--example", "--normalized", "--source", "--target", "--dataset",
    "--data-root", "--epochs", "--threads", "--depths", "--variants", "--seeds", "--lr", "--forget-bias", "--node",
}  # fmt: skip


def _sweep_argv(options: FakeOptions) -> list[str]:
    plan = build_plan(BUDGETS["quick"], options, Path("/data"))
    return list(next(e for e in plan if e.key == "sweep").steps[0].argv)


def test_seeds_as_a_count_with_the_first_seed():
    argv = _sweep_argv(FakeOptions(COMMON | {"--seed"}))
    i = argv.index("--seeds")
    assert argv[i + 1] == str(BUDGETS["quick"].sweep_seeds)
    assert argv[i + 2].startswith("--")  # one count, never the old list of seeds
    assert argv[argv.index("--seed") + 1] == "0"


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_every_command_passes_seeds_as_a_count_with_the_real_cli(name: str):
    # the sweep's --seeds also takes the old list form (deprecated, with a warning); the report never uses it
    for exp in build_plan(BUDGETS[name], _ParserOptions(), Path("/data")):
        for step in exp.steps:
            if "--seeds" in step.argv:
                i = step.argv.index("--seeds")
                assert int(step.argv[i + 1]) >= 1, step.argv
                assert step.argv[i + 2].startswith("--"), step.argv
                assert "--seed" in step.argv, step.argv


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_no_command_uses_a_deprecated_alias(name: str):
    hidden = {
        flag
        for parser in _all_parsers(build_parser())
        for action in parser._actions
        if action.help is argparse.SUPPRESS
        for flag in action.option_strings
    }
    assert "--first-seed" in hidden  # what is looked for is there to find
    for exp in build_plan(BUDGETS[name], _ParserOptions(), Path("/data")):
        for step in exp.steps:
            assert not hidden & set(step.argv), step.argv


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser] + [p for sub in subs for child in sub.choices.values() for p in _all_parsers(child)]


def test_an_option_the_command_lacks_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="'gnnhw textgen train' has no option --sample-at"):
        build_plan(BUDGETS["quick"], FakeOptions(COMMON - {"--sample-at"} | {"--seed"}), Path("/d"))


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
