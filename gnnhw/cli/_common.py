"""Argument types and output helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gnnhw.jsonio import dumps

CONFIG_FIELD = "gnnhw_config_field"
"""Attribute of an argparse action made by :func:`add_config_option`: ``(config class, field name)``."""
CONFIG_VALUES = "gnnhw_config_values"
"""Attribute of an argparse action made by :func:`add_config_option` with ``values``: ``{option value: field
value}`` (``--input one-hot`` sets ``input_size`` 10)."""


def one_of(choices: tuple[Any, ...] | list[Any]) -> str:
    """The metavar of an option whose values are a closed set, as argparse writes ``choices``: ``{rnn,lstm}``.

    >>> one_of(("scratch", "reference"))
    '{scratch,reference}'
    """
    return "{" + ",".join(str(choice) for choice in choices) + "}"


def declared_choices(config: type, field: str) -> tuple[Any, ...] | None:
    """The closed set of values that field ``field`` of config dataclass ``config`` declares
    (:func:`gnnhw.checks.bounded`'s ``choices``), or None."""
    import dataclasses

    spec = {f.name: f for f in dataclasses.fields(config)}[field]
    choices = spec.metadata.get("range", {}).get("choices")
    return None if choices is None else tuple(choices)


def config_field_default(config: type, field: str) -> Any:
    """The default of ``field`` of the config dataclass ``config`` (its ``default_factory()`` for a list)."""
    import dataclasses

    spec = {f.name: f for f in dataclasses.fields(config)}[field]
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    raise TypeError(f"{config.__name__}.{field} has no default")


def add_config_option(
    parser: argparse.ArgumentParser,
    flag: str,
    config: type,
    field: str | None = None,
    *,
    aliases: tuple[str, ...] = (),
    values: dict[str, Any] | None = None,
    **kwargs: Any,
) -> argparse.Action:
    """``parser.add_argument(flag, ...)`` for a field of a config dataclass: the one source of its default.

    The option's ``dest`` is the field's name (``field`` defaults to the flag without dashes, ``-`` as ``_``),
    its default is the field's default, and its help defaults to the field's ``why`` (:func:`gnnhw.checks.bounded`);
    ``(default: X)`` is appended by the help formatter. The action remembers ``(config, field)`` so that a test
    can check every such option against its config (``tests/test_cli_help.py``). ``aliases``: more option
    strings for it. ``values``: ``{option value: field value}`` when the option names the field's values (its
    choices, and its default is the name of the field's default); the command translates what it reads.

    A field that declares ``choices`` shows them as the option's metavar (``--model {rnn,lstm}``) unless the
    call gives ``choices`` or a ``metavar``; its values are still checked by the config's ``validate`` (one
    line naming the option, exit code 2), not by argparse.
    """
    import dataclasses

    field = field or flag.lstrip("-").replace("-", "_")
    spec = {f.name: f for f in dataclasses.fields(config)}[field]
    default = config_field_default(config, field)
    if values is not None:
        kwargs.setdefault("choices", tuple(values))
        default = next(name for name, value in values.items() if value == default)
    closed = declared_choices(config, field)
    if closed is not None and "choices" not in kwargs and "metavar" not in kwargs:
        kwargs["metavar"] = one_of(closed)
    if "default" in kwargs:
        raise TypeError(f"{flag}: its default is the config field's ({config.__name__}.{field}), not restated")
    kwargs.setdefault("dest", field)
    kwargs["default"] = default
    if "help" not in kwargs:
        kwargs["help"] = spec.metadata.get("range", {}).get("why", "")
    action = parser.add_argument(flag, *aliases, **kwargs)
    setattr(action, CONFIG_FIELD, (config, field))
    if values is not None:
        setattr(action, CONFIG_VALUES, dict(values))
    return action


def config_labels(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{config field: the option that sets it}`` for the options :func:`add_config_option` added to ``parser``
    (pass it to a config's ``validate(labels)`` so that errors name what the user typed)."""
    return {getattr(a, CONFIG_FIELD)[1]: a.option_strings[0] for a in parser._actions if hasattr(a, CONFIG_FIELD)}


def config_values(config: type, args: argparse.Namespace) -> dict[str, Any]:
    """The values of the fields of dataclass ``config`` that ``args`` holds (options whose dest is a field)."""
    import dataclasses

    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config) if hasattr(args, f.name)}


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def path_arg(text: str) -> Path:
    """argparse type: a path, never the empty string (``Path("")`` would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return Path(text)


DEVICE_METAVAR = "{auto,cpu,cuda,cuda:N}"
"""What ``--device`` accepts (:func:`gnnhw._utils.check_device_name`, run by :func:`gnnhw.cli.main` before any
command: a bad name is refused before a checkpoint or data set is read)."""


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        metavar=DEVICE_METAVAR,
        help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N (GPU N) (default: auto)",
    )


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        type=path_arg,
        default=None,
        metavar="DIR",
        help="data folder (default: $GNNHW_DATA, else the project's datasets/ folder)",
    )


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def threads_arg(text: str) -> int | str:
    """argparse type of ``--threads``: ``auto`` or a positive integer (its upper bound is checked by
    :func:`apply_threads`, with the other option checks)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive number of threads, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive number of threads, got {value}")
    return value


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=threads_arg,
        default="auto",
        metavar="N|auto",
        help="CPU threads for torch; auto: 1 for small models and Planetoid-sized graphs (fastest on a busy "
        "machine), the idle cores for large graphs (gnnhw.threads.threads_for) (default: auto)",
    )


def apply_threads(args: argparse.Namespace, kind: str = "recurrent", size: int = 0) -> int:
    """Set torch's threads for the rest of the command from ``args.threads`` (a count, or ``auto``: chosen by
    :func:`gnnhw.threads.threads_for` for work of ``kind`` and ``size``); return the count."""
    from gnnhw.threads import MAX_THREADS, resolve_threads

    threads = getattr(args, "threads", "auto")
    if threads != "auto":
        from gnnhw.checks import check_value

        # torch accepts any count and then starts that many threads on the first operation
        check_value("--threads", threads, int, {"min": 1, "max": MAX_THREADS, "why": "CPU threads for torch"})
    count = resolve_threads(threads, kind, size)
    import torch

    torch.set_num_threads(count)
    return count


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    parser.add_argument("--format", choices=choices, default="text", help="output format (default: text)")


def mean_std(mean: float, std: float, runs: int, spec: str = ".2f") -> str:
    """``"mean ± std"`` over ``runs`` runs, each formatted with ``spec``; the value alone for one run.

    One run has no spread: its sample standard deviation is undefined (the library reports 0.0 in its JSON),
    and ``± 0.00`` would read as a measured spread of nothing.

    >>> mean_std(81.5, 0.523, 3)
    '81.50 ± 0.52'
    >>> mean_std(81.5, 0.0, 1)
    '81.50'
    """
    if runs > 1:
        return f"{mean:{spec}} ± {std:{spec}}"
    return f"{mean:{spec}}"


def over_runs(runs: int, what: str = "seed") -> str:
    """What a table's numbers are, for its heading: ``"mean ± std over 3 seeds"``, or ``"1 seed, no std"``.

    >>> over_runs(3), over_runs(1)
    ('mean ± std over 3 seeds', '1 seed, no std')
    """
    return f"mean ± std over {runs} {what}s" if runs > 1 else f"{runs} {what}, no std"


def print_json(payload: Any) -> None:
    """Print ``payload`` as valid JSON (non-finite numbers as null: :func:`gnnhw.jsonio.dumps`)."""
    sys.stdout.write(dumps(payload) + "\n")


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as valid JSON to ``path`` atomically (non-finite numbers as null)."""
    from gnnhw._utils import atomic_write_text

    atomic_write_text(path, dumps(payload) + "\n")


class StoreGiven(argparse.Action):
    """``store``, and remember that the option was given: ``args.given_options`` is the set of such dests.

    Lets a command tell an option the user typed from one left at its default (``--resume`` refuses
    settings given explicitly that differ from the checkpoint's).
    """

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        setattr(namespace, self.dest, values)
        namespace.given_options = set(getattr(namespace, "given_options", set())) | {self.dest}


def given_options(args: argparse.Namespace) -> set[str]:
    """The dests of the :class:`StoreGiven` options given on the command line."""
    return set(getattr(args, "given_options", set()))


class OneValueOrOldList(argparse.Action):
    """An option of one value (``--seeds N``) that still takes its old list form (``--seeds 0 1 2``) for one
    release: it is added with ``nargs="+"``, but ``--help`` shows the one value only (``--seeds N``, not
    ``--seeds N [N ...]``; :class:`gnnhw.cli.HelpFormatter`). Subclasses read the list and warn."""


DEPRECATED_USES = "gnnhw_deprecated_uses"
"""Namespace attribute: ``[(old, new, conflicting option strings, warning)]``, one per deprecated form given
(:func:`note_deprecated`); checked by :func:`refuse_deprecated_conflicts`, warned by :func:`warn_deprecated`."""


def note_deprecated(
    namespace: argparse.Namespace, old: str, new: str, conflicts: tuple[str, ...], warning: str | None
) -> None:
    """Record that the deprecated form ``old`` (e.g. ``--clip``) was given for ``new`` (``--max-norm``).

    The old and the new spelling of one setting given together (``--clip 1 --max-norm 2``, in either
    order) would otherwise let one silently win: :func:`refuse_deprecated_conflicts` refuses the line if any
    option string of ``conflicts`` was given too; else :func:`warn_deprecated` writes ``warning`` (if not None).
    """
    uses = list(getattr(namespace, DEPRECATED_USES, []))
    uses.append((old, new, tuple(conflicts), warning))
    setattr(namespace, DEPRECATED_USES, uses)


def refuse_deprecated_conflicts(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace, argv: list[str]
) -> None:
    """``parser.error`` (one line, exit code 2) if a deprecated form recorded by :func:`note_deprecated` was
    given together with an option that sets the same thing (``argv``: the tokens ``parser`` parsed; options
    are spelt in full, the parser allows no abbreviations)."""
    tokens = argv[: argv.index("--")] if "--" in argv else argv
    given = {token.split("=", 1)[0] for token in tokens if token.startswith("--")}
    for old, new, conflicts, _ in getattr(namespace, DEPRECATED_USES, []):
        clash = [option for option in conflicts if option in given]
        if clash:
            parser.error(f"{old} (deprecated) and {clash[0]} set the same thing; give only {new}")


def warn_deprecated(prog: str, namespace: argparse.Namespace) -> None:
    """Write the warnings of the deprecated forms recorded by :func:`note_deprecated`, one line each on
    stderr, once the whole command line is found good (so that a refused line stays one line)."""
    for *_, warning in getattr(namespace, DEPRECATED_USES, []):
        if warning is not None:
            sys.stderr.write(f"{prog}: warning: {warning}\n")
    if hasattr(namespace, DEPRECATED_USES):
        delattr(namespace, DEPRECATED_USES)


class DeprecatedAlias(argparse.Action):
    """An old option name kept for one release: stores into the new option's ``dest`` and says on stderr,
    once, which name to use. Hidden from ``--help``; listed in CHANGELOG.md.

    ``parser.add_argument("--clip", action=DeprecatedAlias, new="--max-norm", dest="max_norm", type=float)``;
    ``values`` (a dict) translates old values to new ones (``--cell torch`` -> ``--impl reference``).
    """

    def __init__(self, option_strings, dest, new: str, values: dict[str, Any] | None = None, **kwargs):  # noqa: ANN001
        kwargs["help"] = argparse.SUPPRESS
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.new = new
        self.translate = values or {}

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        if isinstance(values, str) and values in self.translate:
            shown = self.translate[values]
            warning = f"{option_string} {values} is deprecated; use {self.new} {shown}"
            values = shown
        else:
            warning = f"{option_string} is deprecated; use {self.new}"
        setattr(namespace, self.dest, values)
        namespace.given_options = set(getattr(namespace, "given_options", set())) | {self.dest}
        replacement = parser._option_string_actions.get(self.new)
        conflicts = tuple(replacement.option_strings) if replacement is not None else (self.new,)
        note_deprecated(namespace, option_string, self.new, conflicts, warning)
