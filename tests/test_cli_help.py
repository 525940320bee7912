"""What a new user sees: every command's ``--help``, and usage mistakes answered in one line.

The checks walk the whole parser tree (``gnnhw``, every subcommand, ``textgen``'s subcommands), so a
command or option added later is held to the same rules without editing this file.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gnnhw.cli import build_parser, main
from gnnhw.cli._common import CONFIG_FIELD, CONFIG_VALUES, config_field_default


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser that runs a command (has no subcommands of its own)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for sub in subs for child in dict.fromkeys(sub.choices.values()) for leaf in _leaves(child)]


def _all(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser] + [p for sub in subs for child in dict.fromkeys(sub.choices.values()) for p in _all(child)]


LEAVES = {p.prog: p for p in _leaves(build_parser())}
PARSERS = {p.prog: p for p in _all(build_parser())}  # with gnnhw and gnnhw textgen
SILENT_KINDS = (argparse._HelpAction, argparse._VersionAction, argparse._StoreTrueAction, argparse._StoreFalseAction)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options --help shows (hidden ones, such as deprecated aliases, left out)."""
    return [
        a
        for a in parser._actions
        if a.option_strings and not isinstance(a, argparse._HelpAction) and a.help != argparse.SUPPRESS
    ]


def test_every_command_is_walked():
    assert "gnnhw textgen train" in LEAVES
    assert "gnnhw adjacency" in LEAVES
    assert len(LEAVES) >= 12


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_help_has_description_and_examples_of_itself(prog):
    parser = PARSERS[prog]
    assert parser.description, prog
    assert len(parser.description.split()) >= 5, prog
    text = parser.format_help()
    assert "examples:" in text, prog
    examples = text.split("examples:", 1)[1].strip().splitlines()
    assert any(line.strip().startswith(prog + " ") for line in examples), (prog, examples)


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_every_section_of_the_help_stands_apart(prog):
    # a heading ('examples:', 'budgets:', ...) glued to the line above it reads as part of that section
    lines = PARSERS[prog].format_help().splitlines()
    glued = [b for a, b in zip(lines, lines[1:], strict=False) if re.fullmatch(r"[a-z][a-z ()-]*:", b) and a.strip()]
    assert glued == [], prog


@pytest.mark.parametrize("prog", sorted(LEAVES))
def test_every_option_is_explained_with_its_default(prog):
    parser = LEAVES[prog]
    for action in _options(parser):
        name = "/".join(action.option_strings)
        assert action.help, f"{prog} {name} has no help"
        assert action.help.strip(), f"{prog} {name} has no help"
        shown = parser._get_formatter()._get_help_string(action)  # what --help prints for it
        if isinstance(action, SILENT_KINDS) or action.required or action.default in (None, []):
            continue  # a flag, a required option, or one that is simply absent unless given
        assert "default" in shown, f"{prog} {name}: help does not say its default ({shown!r})"


# ---------------------------------------------------------------- every default has one source


def _has_default(action: argparse.Action) -> bool:
    """True when the option means something without being given (None, False, [] and SUPPRESS mean absent)."""
    return not any(action.default is empty for empty in (None, False, argparse.SUPPRESS)) and action.default != []


# Options with a default of their own that is not an experiment setting: how a command runs or shows its
# results, never what it measures. Any other option with a default takes it from a config field
# (gnnhw.cli._common.add_config_option); a new option with a literal default fails below until it is linked
# to its config or listed here with the reason.
_HOW = "where and how the work runs, not what is measured"
CLI_ONLY_EVERYWHERE = {  # in every command that has them
    "--format": "how the results are printed",
    "--device": _HOW,
    "--threads": _HOW,
    "--executor": _HOW,
    "--workers": _HOW,
    "--jobs": _HOW,
    "--out": "where the results are written",
}
CLI_ONLY: dict[tuple[str, str], str] = {
    ("gnnhw adjacency", "--decimals"): "digits of the printed matrix",
    **{
        (prog, action.option_strings[0]): CLI_ONLY_EVERYWHERE[action.option_strings[0]]
        for prog, parser in LEAVES.items()
        for action in _options(parser)
        if action.option_strings[0] in CLI_ONLY_EVERYWHERE and _has_default(action)
    },
}


def _config_linked(prog: str) -> list[argparse.Action]:
    return [a for a in LEAVES[prog]._actions if hasattr(a, CONFIG_FIELD)]


def test_config_linked_options_are_found():
    linked = {(prog, a.option_strings[0]) for prog in LEAVES for a in _config_linked(prog)}
    assert ("gnnhw palindrome-sweep", "--lengths") in linked
    assert ("gnnhw textgen train", "--lr") in linked
    assert len(linked) >= 60


@pytest.mark.parametrize("prog", sorted(LEAVES))
def test_every_config_option_has_its_fields_default(prog):
    for action in _config_linked(prog):
        config, field = getattr(action, CONFIG_FIELD)
        value = action.default
        if hasattr(action, CONFIG_VALUES):  # --input one-hot: input_size 10
            value = getattr(action, CONFIG_VALUES)[value]
        expected = config_field_default(config, field)
        assert value == expected, f"{prog} {action.option_strings[0]}: {value!r} != {config.__name__}.{field}"
        assert type(value) is type(expected), f"{prog} {action.option_strings[0]}: {type(value)}"
        assert action.dest == field, f"{prog} {action.option_strings[0]}: dest {action.dest!r}"


@pytest.mark.parametrize("prog", sorted(LEAVES))
def test_every_default_comes_from_a_config_or_is_listed_cli_only(prog):
    for action in _options(LEAVES[prog]):
        if hasattr(action, CONFIG_FIELD) or not _has_default(action) or isinstance(action, SILENT_KINDS):
            continue
        key = (prog, action.option_strings[0])
        assert key in CLI_ONLY, f"{key}: default {action.default!r} is neither a config field's nor in CLI_ONLY"


def test_cli_only_list_has_no_stale_entries():
    options = {(prog, a.option_strings[0]): a for prog in LEAVES for a in _options(LEAVES[prog])}
    for key in CLI_ONLY:
        assert key in options, f"{key} is listed in CLI_ONLY but is no option"
        assert not hasattr(options[key], CONFIG_FIELD), f"{key} is listed in CLI_ONLY but is config-linked"
        assert _has_default(options[key]), f"{key} is listed in CLI_ONLY but has no default"


def test_defaults_shown_are_the_real_ones():
    parser = LEAVES["gnnhw palindrome-sweep"]
    text = " ".join(parser.format_help().split())
    lengths = next(a for a in parser._actions if a.dest == "lengths").default
    assert f"(default: {' '.join(map(str, lengths))})" in text


def _one_line(capsys, argv: list[str], *fragments: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out, err = capsys.readouterr()
    assert stop.value.code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.mark.parametrize("prog", sorted(LEAVES))
def test_misspelt_option_names_the_command_and_the_option_meant(capsys, prog):
    argv = prog.split()[1:]
    for action in _options(LEAVES[prog]):
        option = action.option_strings[-1]
        if not option.startswith("--") or len(option) < 6:
            continue
        typo = option[:3] + option[4] + option[3] + option[5:]  # swap two letters: --lenght
        if typo == option:
            continue
        line = _one_line(capsys, [*argv, typo, "1"], f"{prog}: error: unrecognized arguments: {typo}")
        assert f"did you mean {option}" in line, line
        assert f"'{prog} --help'" in line, line


@pytest.mark.parametrize("prog", sorted(LEAVES))
def test_abbreviated_options_are_refused(capsys, prog):
    # argparse would take a unique prefix: palindrome --early 0.9 for --early-stop 0.9 (and train-gcn --seed 3
    # silently meant --seeds 3, three runs, until --seed came)
    argv = prog.split()[1:]
    options = {s for a in _options(LEAVES[prog]) for s in a.option_strings}
    for option in sorted(options):
        prefix = option[:-1]
        if option.startswith("--") and len(prefix) > 3 and prefix not in options:
            _one_line(capsys, [*argv, prefix, "1"], f"unrecognized arguments: {prefix}")


def test_train_gcn_seed_is_not_taken_for_seeds():
    # --seed is an option of its own now (issue 11: the first seed; --seeds counts the runs), never --seeds' prefix
    args = build_parser().parse_args(["train-gcn", "--seed", "3"])
    assert args.seed == 3
    assert args.seeds == 1


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["textgen", "train", "--out", "x"], ["gnnhw textgen train: error:", "required: --text"]),
        (["trian-gcn"], ["gnnhw: error:", "invalid choice: 'trian-gcn'", "train-gcn"]),
        (["textgen", "sampel"], ["gnnhw textgen: error:", "invalid choice: 'sampel'"]),
        (["palindrome", "--length", "x"], ["gnnhw palindrome: error:", "invalid int value: 'x'"]),
        (["adjacency"], ["gnnhw adjacency: error:", "--example --graph"]),
    ],
)
def test_usage_mistakes_are_one_line(capsys, argv, fragments):
    _one_line(capsys, argv, *fragments)


def test_library_errors_name_the_subcommand(capsys, tmp_path):
    code = main(["textgen", "sample", "--checkpoint", str(tmp_path / "none.pt")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("gnnhw textgen sample: error: checkpoint "), err
    assert err.count("\n") == 1, err


# ------------------------------------------------------------------ the README's commands parse as written

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_commands() -> list[str]:
    """Every ``gnnhw ...`` command line of the README's ```bash blocks (continuations joined, comments cut)."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if not re.match(r"\s*([A-Z_]+=\S*\s+)*gnnhw\s", line):
                continue  # make, python, cp, export ... lines
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # OMP_NUM_THREADS=1 gnnhw ...
                words.pop(0)
            if words and words[0] == "gnnhw":
                commands.append(shlex.join(words))
    return commands


def test_the_readme_has_commands_to_check():
    assert len(_readme_commands()) >= 20


@pytest.mark.parametrize("command", _readme_commands())
def test_every_readme_command_parses(command, capsys):
    # parsing only (nothing runs): a renamed option, a wrong subcommand or pseudo-syntax such as
    # '[--stateful]' or '--temperature 0.5 | --greedy' in a copy-pasted line fails here
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert callable(args.func)
    # and without a deprecation warning: the README shows the current names and forms (not '--seeds 0 1')
    assert capsys.readouterr().err == ""


def _readme_inline_commands() -> list[tuple[str, list[str]]]:
    """The ``gnnhw ...`` spans in the README's prose and tables (single backticks, possibly wrapped onto the next
    line): (the command's prog, its option names). Spans with placeholders (``COMMAND``, ``palindrome*``) or
    that quote an error message are left out."""
    text = re.sub(r"```.*?```", "", README.read_text(encoding="utf-8"), flags=re.S)
    commands = {prog.split()[1] for prog in PARSERS if prog != "gnnhw"}  # 'train-gcn --impl ...' counts too
    found = []
    for span in re.findall(r"`([^`]+)`", text):
        words = span.split()
        if words[0] in commands and len(words) > 1 and words[1].startswith("--"):
            words = ["gnnhw", *words]
        if words[0] != "gnnhw" or len(words) < 2:
            continue
        if "COMMAND" in words or "error:" in span or words[1].endswith("*"):
            continue
        command = [w for w in words[:3] if not w.startswith("-")][: 3 if words[1] == "textgen" else 2]
        prog = " ".join(command)
        found.append((prog, [w for w in words if w.startswith("--")]))
    return found


def test_the_readme_has_inline_commands_to_check():
    assert len(_readme_inline_commands()) >= 20


@pytest.mark.parametrize(("prog", "options"), _readme_inline_commands())
def test_every_option_of_the_readme_prose_is_a_current_one(prog, options):
    # prose and table commands hold placeholders (--length N, --dataset D), so they are not parsed; but every
    # option they name must be one the command lists in --help (not a deprecated alias such as --layer)
    assert prog in PARSERS, f"README names a command that does not exist: {prog}"
    current = {s for action in _options(PARSERS[prog]) for s in action.option_strings} | {"--help"}
    for option in options:
        assert option in current, f"README: '{prog} {option}' is not a current option of {prog}"


# -------------------------------------------------------------------------- output piped into `head`


def test_output_piped_into_a_reader_that_has_gone_is_no_traceback():
    # `gnnhw adjacency --example | head -1` ended in a BrokenPipeError traceback when head had exited
    # before gnnhw wrote; here the reader is gone before the command starts writing, every time
    argv = [sys.executable, "-m", "gnnhw", "adjacency", "--example"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert err == "", (code, err)
    assert code == 141, (code, err)


def _help_examples() -> list[tuple[str, str]]:
    found = []
    for prog, parser in PARSERS.items():
        text = parser.format_help()
        if "examples:" not in text:
            continue
        for line in text.split("examples:", 1)[1].splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if ">" in words:  # a shell redirection: ... --format csv > A_tilde.csv
                words = words[: words.index(">")]
            if words[:1] == ["gnnhw"]:
                found.append((prog, shlex.join(words)))
    return found


def test_help_examples_are_found():
    assert len(_help_examples()) >= 2 * len(LEAVES)


@pytest.mark.parametrize(("prog", "command"), _help_examples())
def test_every_help_example_parses(prog, command):
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert callable(args.func), (prog, command)
