"""How many CPU threads torch should use for a piece of work, chosen for the user.

torch's default (one thread per core) is the fastest setting for one large operation on an idle machine
and the slowest on a busy one: its OpenMP threads wait for each other at the end of every operation, so a
thread that shares a core with another process stalls all of them. The work gnnhw does is mostly *small*
operations in long sequences (a recurrent step on a batch of 128 is a product of a few million
multiply-adds, done thousands of times), where that wait costs more than a second thread gains
(``benchmarks/threads.py`` measures it; the figures are in the README's "Threads" section). Hence:

- :func:`threads_for` is the policy: one thread for small recurrent models, Cora-sized graphs and sweep
  workers (the processes, not the threads, use the cores); for large graphs, as many threads as cores are
  idle when the work starts (:func:`idle_cores`): every core of a quiet machine, one on a busy one, where
  threads that share cores with other processes make even a large sparse product several times slower.
- :func:`use_threads` applies a count (or ``"auto"``) for the duration of a ``with`` block and restores
  torch's previous setting afterwards. Importing this module changes nothing.

torch's *inter-op* pool is left alone: its size can be set only once per process, before any parallel work,
so a context manager could not restore it (and gnnhw runs no inter-op parallel work).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator

from gnnhw.errors import ConfigError

KINDS = ("recurrent", "graph", "worker")
"""The kinds of work :func:`threads_for` knows: a recurrent model's training or evaluation step, a graph
convolution over a whole graph, and one worker process of a sweep (several run side by side)."""

MAX_THREADS = 1024
"""Most threads accepted: torch starts every thread it is given on its first operation."""

RECURRENT_PARALLEL_SIZE = 1 << 22
"""``batch_size x hidden_size`` from which a recurrent step uses every usable core (4M: e.g. a batch of 4096
palindromes with 1024 hidden units). Below it one thread: the step's products are too small for a second
thread to pay for its synchronisation, on a busy machine above all."""

GRAPH_PARALLEL_EDGES = 1_000_000
"""Edges from which a graph convolution uses every usable core. Planetoid's graphs (Cora 10,556 edges,
PubMed 88,648) stay on one thread; a graph of 10^6 edges and more does enough work per sparse product for
the threads to pay."""


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (``taskset``, a container's cpuset) where the
    OS reports one, else ``os.cpu_count()``; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs since boot, from ``/proc/stat`` (Linux); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return fields[3] + fields[4], sum(fields)


def idle_cores(interval: float = 0.1) -> float:
    """How many of this process's usable cores are idle: the machine's idle CPU fraction over the next
    ``interval`` seconds (``/proc/stat``) times :func:`usable_cores`; where that is not available, the usable
    cores less the 1-minute load average; else every usable core. Between 0 and :func:`usable_cores`."""
    cores = usable_cores()
    first = _cpu_times()
    if first is not None:
        time.sleep(interval)
        second = _cpu_times()
        if second is not None and second[1] > first[1]:
            fraction = (second[0] - first[0]) / (second[1] - first[1])
            return min(float(cores), max(0.0, fraction * (os.cpu_count() or cores)))
    try:
        return min(float(cores), max(0.0, cores - os.getloadavg()[0]))
    except (AttributeError, OSError):
        return float(cores)


def threads_for(kind: str, size: int = 0, cores: int | None = None) -> int:
    """The number of torch threads for work of ``kind`` and ``size`` (the policy behind ``--threads auto``).

    Args:
        kind: ``"recurrent"`` (``size`` = batch_size x hidden_size of one step), ``"graph"`` (``size`` = the
            graph's number of edges) or ``"worker"`` (one of several processes of a sweep; ``size`` unused).
        size: the work's size in the unit of its kind (>= 0; 0 when unknown counts as small).
        cores: the cores to use for large work (default: the idle ones, :func:`idle_cores` rounded, at
            least 1; measured only for large work, in 0.1 s).

    Returns:
        1 for a sweep worker and for small work (below :data:`RECURRENT_PARALLEL_SIZE` or
        :data:`GRAPH_PARALLEL_EDGES`); ``cores`` for large work.

    Raises:
        ConfigError: an unknown ``kind``, a negative ``size`` or ``cores`` < 1.

    >>> threads_for("recurrent", 128 * 128)  # the palindrome LSTM: batch 128, 128 hidden units
    1
    >>> threads_for("graph", 10_556)  # Cora
    1
    >>> threads_for("graph", 10_000_000, cores=8)
    8
    >>> threads_for("worker", cores=8)
    1
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown kind of work {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ConfigError(f"size of the work must be an integer >= 0, got {size!r}")
    if cores is not None and (isinstance(cores, bool) or not isinstance(cores, int) or cores < 1):
        raise ConfigError(f"cores must be a positive integer, got {cores!r}")
    threshold = RECURRENT_PARALLEL_SIZE if kind == "recurrent" else GRAPH_PARALLEL_EDGES
    if kind == "worker" or size < threshold:
        return 1
    if cores is None:
        cores = max(1, math.floor(idle_cores() + 0.5))
    return cores


def resolve_threads(threads: int | str, kind: str = "recurrent", size: int = 0) -> int:
    """``threads`` as a count: an integer in [1, :data:`MAX_THREADS`] as it is, ``"auto"`` by :func:`threads_for`.

    Raises:
        ConfigError: ``threads`` is neither ``"auto"`` nor an integer in range (0, a negative number, an
            absurd count), or ``kind``/``size`` are bad.

    >>> resolve_threads(3)
    3
    >>> resolve_threads("auto", "recurrent", 128 * 128)
    1
    """
    if threads == "auto":
        return threads_for(kind, size)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ConfigError(
            f"threads must be 'auto' or an integer from 1 to {MAX_THREADS} (CPU threads for torch), got {threads!r}"
        )
    return threads


@contextlib.contextmanager
def use_threads(threads: int | str = "auto", kind: str = "recurrent", size: int = 0) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(n)``; restore the previous count on exit (also on an error).

    ``threads`` is a count or ``"auto"`` (:func:`threads_for` of ``kind`` and ``size``); the block gets the
    count in use. Only this process's intra-op pool changes (see the module's docstring on inter-op threads).

    Raises:
        ConfigError: a bad ``threads``, ``kind`` or ``size`` (:func:`resolve_threads`), before anything changes.

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with use_threads(1) as n:
    ...     (n, torch.get_num_threads())
    (1, 1)
    >>> torch.get_num_threads() == before
    True
    """
    count = resolve_threads(threads, kind, size)
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)
