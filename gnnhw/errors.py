"""gnnhw's exceptions.

Every problem with a user's input raises a subclass of :class:`GnnhwError` whose message names the bad
value and what was expected. The CLI prints that message as one line on stderr and exits with code 2.
They also derive from :class:`ValueError` so generic callers can catch them as bad values.
"""

from __future__ import annotations


class GnnhwError(ValueError):
    """Base class of every error gnnhw raises for bad input."""


class GraphError(GnnhwError):
    """An adjacency matrix, edge_index or edge weights that do not describe a valid graph."""


class NodeNotFoundError(GnnhwError):
    """A node name that is not in the graph."""


class NoPathError(GnnhwError):
    """Two nodes with no path between them."""


class GraphFileError(GnnhwError):
    """A graph file that is missing, unreadable or malformed."""


class ShapeError(GnnhwError):
    """A tensor whose shape does not fit the model or graph it is used with."""


class DeviceError(GnnhwError):
    """Tensors that must be on one device (e.g. node features, edge_index and a layer's weights) are not."""


class DTypeError(GnnhwError):
    """A tensor whose dtype does not match the module or the other inputs it is used with."""


class ConfigError(GnnhwError):
    """A hyper-parameter or option outside its valid range."""


class DataNotFoundError(GnnhwError):
    """A data set that is neither on disk nor downloadable."""


class CheckpointError(GnnhwError):
    """A checkpoint that is missing, corrupt or written by something else."""


class TextFileError(GnnhwError):
    """A text file that is missing, empty, not UTF-8, or too short for one training window
    (:mod:`gnnhw.recurrent.text`; also importable from there, its old home)."""


def check_positive_int(name: str, value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an ``int`` (not a ``bool``) >= 1."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


class DataIntegrityError(DataNotFoundError):
    """A raw data file whose SHA-256 digest or contents are not those of the published original.

    A subclass of :class:`DataNotFoundError`: the data set that was asked for is not what is on disk.
    """


class ResultsFileError(GnnhwError):
    """A results file (``sweep.json``, a run's JSON) that is missing, not valid JSON, or not in gnnhw's format."""


class DivergedError(GnnhwError):
    """Training whose loss or weights became non-finite (NaN or infinity): no result is reported for it."""


class InputFileError(GnnhwError):
    """An input path that cannot be read as asked (a FIFO or pipe where a seekable file is needed, ...)."""


class NonFiniteError(GnnhwError):
    """NaN or infinity where finite numbers are needed (a model's weights or outputs, a loss)."""


class DegreeError(GraphError):
    """A node whose degree in Ã is 0 or negative, so that D̃^-1/2 (and Â) is undefined.

    ``index`` is the node's position (0..N-1) and ``degree`` its degree; :func:`gnnhw.graph.normalized_adjacency`
    re-raises it naming the node's label.
    """

    def __init__(self, message: str, index: int, degree: float) -> None:
        super().__init__(message)
        self.index = index
        self.degree = degree


class OutputError(GnnhwError):
    """An output path that cannot be written (a file where a folder is meant, read-only, full disk, ...)."""


class OutputLockedError(OutputError):
    """An output folder or file that another running gnnhw command is writing to."""


class ExperimentError(GnnhwError):
    """A command run by ``gnnhw report`` failed; the message names the command and its last stderr line."""


class ExecutorError(GnnhwError):
    """An executor that cannot run the jobs: unknown, not installed (Ray), or a cluster that cannot be reached."""
