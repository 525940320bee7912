"""Reading checkpoints back as untrusted input: one loader for every kind of gnnhw checkpoint.

Every checkpoint gnnhw writes is a dict of tensors and plain Python values that starts with a header,
:func:`checkpoint_header` (``{"format": name, "version": n}``). :func:`load_checkpoint`:

1. refuses a file that is not a zip archive (what ``torch.save`` writes) before anything unpickles it, then reads
   it with ``torch.load(..., weights_only=True)`` only: a file that holds anything else (pickled
   classes, code) is refused with :class:`~gnnhw.errors.CheckpointError`, and torch's advice to retry with
   ``weights_only=False`` (which would run code from the file) is never passed on;
2. checks the format name and version;
3. checks the rest against a :mod:`gnnhw.schema` spec: required keys, types, ranges, and finiteness of the
   weights, naming the file and the field.

:func:`save_checkpoint` writes one: the header, then the payload, atomically (a temporary file renamed over the
old one, so a crash or a full disk never leaves half a checkpoint, and the previous one stays).
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from gnnhw.errors import CheckpointError
from gnnhw.schema import Spec, validate


def checkpoint_header(format_name: str, version: int) -> dict[str, Any]:
    """The first two entries of every checkpoint: ``{"format": format_name, "version": version}``."""
    return {"format": format_name, "version": version}


def save_checkpoint(path: str | os.PathLike, format_name: str, version: int, payload: dict[str, Any]) -> None:
    """Write ``{"format": format_name, "version": version, **payload}`` to ``path`` atomically with ``torch.save``.

    ``payload`` holds tensors and plain Python values only, so that :func:`load_checkpoint` can read it back with
    ``weights_only=True``.

    Raises:
        OutputError: the file cannot be written (e.g. ``No space left on device``); an existing file at ``path``
            is then kept as it was.
    """
    from gnnhw._utils import atomic_torch_save

    clash = {"format", "version"} & payload.keys()
    if clash:
        raise ValueError(f"payload must not set the header key(s) {sorted(clash)}")
    atomic_torch_save({**checkpoint_header(format_name, version), **payload}, path)


def _reason(err: BaseException) -> str:
    """A short, safe reason from a torch.load failure (never torch's weights_only=False advice)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    lines = [ln for ln in lines if "weights_only" not in ln and "trust" not in ln.lower()]
    return (lines[0][:160] if lines else type(err).__name__).rstrip(".")


ZIP_MAGIC = b"PK\x03\x04"
"""The first bytes of every file ``torch.save`` writes (a zip archive; torch's legacy pickle format is never
written by gnnhw, so a file without them is refused before it is unpickled)."""


def read_torch_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with every failure turned into one :class:`CheckpointError` line.

    A file that does not start with :data:`ZIP_MAGIC` is refused before ``torch.load`` sees it."""
    path = Path(path)
    source = f"checkpoint {str(path)!r}"
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.pt") if p.is_file())
        hint = f"; give the file, e.g. {str(path / inside[0])!r}" if inside else "; it holds no .pt file"
        raise CheckpointError(f"{source} is a directory, expected a file{hint}")
    if not path.exists():
        raise CheckpointError(f"{source} does not exist")
    try:
        # torch.load needs to seek: a pipe (a FIFO, ``<(cat ckpt.pt)``) is read into memory first
        source_file: Any = path if path.is_file() else io.BytesIO(path.read_bytes())
        if isinstance(source_file, io.BytesIO):
            magic = source_file.getvalue()[: len(ZIP_MAGIC)]
        else:
            with open(path, "rb") as file:
                magic = file.read(len(ZIP_MAGIC))
        if magic != ZIP_MAGIC:
            raise CheckpointError(f"{source} is corrupt or not a torch file (not the zip archive torch.save writes)")
        with warnings.catch_warnings():  # torch warns about odd pickle protocols: noise for a file we refuse
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(source_file, map_location=map_location, weights_only=True)
    except CheckpointError:
        raise
    except PermissionError:
        raise CheckpointError(f"{source} is not readable (permission denied)") from None
    except pickle.UnpicklingError:
        # Raised for pickled objects outside the tensor/plain-value allow-list, and for random bytes.
        raise CheckpointError(
            f"{source} is corrupt or not a torch file of tensors and plain values (it holds other Python "
            "objects, which gnnhw never writes and will not unpickle)"
        ) from None
    except Exception as err:  # zip/EOF/runtime errors: truncated or foreign file
        raise CheckpointError(f"{source} is corrupt or not a torch file ({_reason(err)})") from None


def load_checkpoint(
    path: str | os.PathLike,
    format_name: str,
    versions: tuple[int, ...],
    spec: Spec | None = None,
    map_location: str | torch.device = "cpu",
    what: str = "gnnhw",
) -> dict[str, Any]:
    """Read ``path`` (weights only), check its header against ``format_name`` / ``versions`` and its content
    against ``spec``. Returns the checkpoint dict.

    A header written as ``"name/N"`` in ``format`` with no ``version`` key is read as name ``name``, version N.

    Raises:
        CheckpointError: one line naming the file, and the field when the content is wrong.
    """
    ckpt = read_torch_file(path, map_location)
    source = f"checkpoint {str(Path(path))!r}"
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{source} is not a {what} checkpoint (it holds a {type(ckpt).__name__}, not a dict)")
    name, version = ckpt.get("format"), ckpt.get("version")
    if isinstance(name, str) and version is None and "/" in name:
        name, _, tail = name.rpartition("/")
        version = int(tail) if tail.isdigit() else tail
    if name != format_name:
        raise CheckpointError(
            f"{source} is not a {what} checkpoint (format {name!r:.60}, expected {format_name!r}); "
            "give a checkpoint written by the matching gnnhw command"
        )
    if isinstance(version, bool) or version not in versions:
        raise CheckpointError(
            f"{source} has format version {version!r:.30}; this gnnhw reads version(s) {', '.join(map(str, versions))}"
        )
    if spec is not None:
        validate(ckpt, spec, source, CheckpointError)
    return ckpt


def check_optimizer_state(optimizer: torch.optim.Optimizer, source: str) -> None:
    """After ``optimizer.load_state_dict(...)``: every per-parameter state tensor (Adam's ``exp_avg``, ...)
    has its parameter's shape and finite values, ``step`` counts are finite and >= 0, and the numbers of
    each parameter group (``lr``, ``betas``, ``eps``, ...) are finite.

    torch checks only the number of parameters per group: a state of the wrong shape fails inside the next
    optimizer step with a raw RuntimeError (or broadcasts silently), a NaN moment poisons the weights.

    Raises:
        CheckpointError: one line naming ``source`` (e.g. ``"checkpoint 'run/checkpoint.pt'"``) and the entry.
    """
    import math

    for g, group in enumerate(optimizer.param_groups):
        for key, value in group.items():
            numbers = value if isinstance(value, (tuple, list)) else (value,)
            for x in numbers:
                if isinstance(x, float) and not math.isfinite(x):
                    raise CheckpointError(f"{source}: optimizer.param_groups[{g}].{key} is not finite ({value!r})")
        for i, param in enumerate(group["params"]):
            for key, value in optimizer.state.get(param, {}).items():
                if not isinstance(value, torch.Tensor):
                    continue
                where = f"{source}: optimizer state {key} of parameter {i} of group {g}"
                if key == "step":
                    if value.numel() != 1 or not bool(torch.isfinite(value).all()) or float(value) < 0:
                        raise CheckpointError(f"{where} must be one finite count >= 0, got {value.tolist()!r:.60}")
                    continue
                if value.shape != param.shape:
                    raise CheckpointError(
                        f"{where} has shape {tuple(value.shape)}, but the parameter has {tuple(param.shape)}"
                    )
                if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                    raise CheckpointError(f"{where} holds NaN or infinity; the file is corrupt or its run diverged")
