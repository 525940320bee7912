"""Old option spellings kept for one release (CHANGELOG.md): every one warns, and given together with the
option that replaced it, in either order, is refused in one line (otherwise one of them silently wins).

The checks walk every command's parser, so an alias added later is held to the same rules.
"""

from __future__ import annotations

import argparse

import pytest

from gnnhw.cli import build_parser
from gnnhw.cli._common import DeprecatedAlias


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for sub in subs for child in dict.fromkeys(sub.choices.values()) for leaf in _leaves(child)]


def _argv(prog: str) -> list[str]:
    return prog.split()[1:]  # "gnnhw textgen train" -> ["textgen", "train"]


def _value(action: argparse.Action) -> str:
    """A value ``action`` accepts."""
    if isinstance(action, DeprecatedAlias) and action.translate:
        return next(iter(action.translate))
    if action.choices:
        return str(next(iter(action.choices)))
    return "3"


ALIASES = [
    (leaf.prog, action)
    for leaf in _leaves(build_parser())
    for action in leaf._actions
    if isinstance(action, DeprecatedAlias)
]
IDS = [f"{prog} {action.option_strings[0]}" for prog, action in ALIASES]


def test_the_aliases_of_the_changelog_are_walked():
    names = {(prog.split()[-1], action.option_strings[0]) for prog, action in ALIASES}
    for expected in [
        ("palindrome", "--clip"),
        ("palindrome", "--hidden"),
        ("palindrome", "--backend"),
        ("train-gcn", "--layer"),
        ("train-gcn", "--first-seed"),
        ("depth-study", "--hidden"),
        ("train", "--cell"),
    ]:
        assert expected in names


@pytest.mark.parametrize(("prog", "alias"), ALIASES, ids=IDS)
@pytest.mark.parametrize("old_first", [True, False], ids=["old-first", "new-first"])
def test_an_alias_with_its_new_option_is_refused_in_one_line(capsys, prog, alias, old_first):
    leaf = {p.prog: p for p in _leaves(build_parser())}[prog]
    new = leaf._option_string_actions[alias.new]
    old_pair = [alias.option_strings[0], _value(alias)]
    new_pair = [alias.new, _value(new)]
    pairs = old_pair + new_pair if old_first else new_pair + old_pair
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*_argv(prog), *pairs, *_required(leaf)])  # refused while parsing
    out, err = capsys.readouterr()
    assert stop.value.code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"{alias.option_strings[0]} (deprecated) and {alias.new} set the same thing" in lines[0]
    assert f"give only {alias.new}" in lines[0]


@pytest.mark.parametrize(("prog", "alias"), ALIASES, ids=IDS)
def test_an_alias_alone_warns_once_and_sets_the_new_option(capsys, prog, alias):
    leaf = {p.prog: p for p in _leaves(build_parser())}[prog]
    args = build_parser().parse_args([*_argv(prog), alias.option_strings[0], _value(alias), *_required(leaf)])
    err = capsys.readouterr().err
    assert err.count("deprecated") == 1, err
    assert f"use {alias.new}" in err
    expected = alias.translate.get(_value(alias), alias.type(_value(alias)) if alias.type else _value(alias))
    assert getattr(args, alias.dest) == expected


def _required(leaf: argparse.ArgumentParser) -> list[str]:
    """Values for the required options of ``leaf`` (parsing only: nothing is read)."""
    argv: list[str] = []
    for action in leaf._actions:
        if action.required and action.option_strings:
            argv += [action.option_strings[0], _value(action)]
    return argv


@pytest.mark.parametrize(
    "argv",
    [
        ["palindrome-sweep", "--seed", "3", "--seeds", "0", "1"],
        ["palindrome-sweep", "--seeds", "0", "1", "--seed", "3"],
        ["gnn-vs-rnn", "--seed", "3", "--seeds", "0", "1"],
        ["gnn-vs-rnn", "--seeds", "0", "1", "--seed=3"],
    ],
)
def test_the_old_list_of_seeds_with_seed_is_refused_in_one_line(capsys, argv):
    """The list names its first seed; --seed as well used to be silently ignored (or silently win)."""
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)  # refused while parsing: nothing runs
    out, err = capsys.readouterr()
    assert stop.value.code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "--seeds S1 S2 ... (deprecated) and --seed set the same thing" in lines[0]


def test_a_refused_line_does_not_also_warn(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["palindrome", "--clip", "1", "--steps", "1", "--no-such-option"])
    err = capsys.readouterr().err
    assert "warning" not in err
    assert len(err.strip().splitlines()) == 1
