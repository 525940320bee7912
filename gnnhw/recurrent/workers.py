"""Independent training runs in parallel worker processes that never outlive the parent.

:func:`run_configs` trains each config with a module-level ``job`` function, in this process (one worker) or in
a pool of "spawn" worker processes with one torch thread each, and hands each record back as it finishes.
Workers ignore SIGINT (the parent handles it and stops them) and end with the parent however it dies
(:func:`die_with_parent`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch

from gnnhw.errors import check_positive_int


def _watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent_pid:  # the parent died and this process was handed to another one
            os._exit(1)


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process end when its parent ``parent_pid`` dies, however the parent dies.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); everywhere, a
    daemon thread also checks ``os.getppid()`` twice a second and exits once the parent is gone. Without
    this, the workers of a ``kill -9``-ed sweep would wait for work forever.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="gnnhw-watch-parent", daemon=True).start()


_PR_SET_PDEATHSIG = 1


def _init_worker(parent_pid: int, threads: int = 1) -> None:
    # The parent handles Ctrl-C (the terminal sends it to every process of the group) and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    die_with_parent(parent_pid)
    torch.set_num_threads(threads)  # default one per process: the processes, not the threads, use the cores


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while workers are started: they inherit the mask, so a Ctrl-C during
    their start-up waits until they ignore it (the parent still gets it, from its other threads or after)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes now (jobs in flight are lost; finished ones were already handed on)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


_Job = TypeVar("_Job")  # what a worker gets: a config, or a tuple of configs trained together
_Out = TypeVar("_Out")  # what it returns: a record, or a list of records


def run_configs(
    configs: Sequence[_Job],
    workers: int,
    on_done: Callable[[_Job, _Out], None],
    job: Callable[[_Job], _Out],
    threads: int = 1,
    executor: str = "local",
    address: str | None = None,
) -> None:
    """Run each config's training; call ``on_done(config, record)`` in this process as each finishes.

    ``executor="ray"`` runs the jobs as Ray tasks instead (:func:`gnnhw.executors.run_on_ray`; ``address``: the
    cluster, default a local Ray instance with ``workers`` CPUs); the rest of this docstring is the local pool.

    ``job`` (a module-level function, so worker processes can import it) turns a config into a record.
    ``workers == 1`` trains in this process, one job after another; more use that many worker processes
    (started with "spawn", ``threads`` torch threads each: one by default, as
    :func:`gnnhw.threads.threads_for` says for sweep workers). Workers ignore SIGINT and end with this process
    (:func:`die_with_parent`); if anything interrupts the loop here (an error, ``KeyboardInterrupt``, the
    CLI's SIGTERM), they are killed before the exception propagates.
    """
    check_positive_int("workers", workers)
    if executor != "local" or address is not None:
        from gnnhw.executors import check_executor, run_on_ray

        check_executor(executor, address)
        run_on_ray(job, configs, on_done, address=address, workers=workers)
        return
    workers = min(workers, max(1, len(configs)))  # never more processes than jobs
    if workers == 1 or len(configs) <= 1:
        for config in configs:
            on_done(config, job(config))
        return
    context = torch.multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(), threads)
    )
    futures: dict[cf.Future, _Job] = {}
    try:
        with _sigint_blocked():
            for config in configs:
                futures[pool.submit(job, config)] = config
        for future in cf.as_completed(futures):
            on_done(futures[future], future.result())
    except BaseException:  # an error, Ctrl-C or SIGTERM: no worker may outlive the sweep
        for future in futures:
            future.cancel()
        _stop_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
