"""Where independent training jobs run: this machine's worker processes (``local``) or a Ray cluster (``ray``).

The experiments hand a list of jobs (a module-level function and its arguments) and an ``on_done(item, record)``
callback to :func:`run_jobs`; the callback always runs in *this* process (the driver), as each job finishes. That
is what keeps a results file the single source of truth whatever the executor: only the driver writes it, once
per finished job, atomically (e.g. :func:`gnnhw.recurrent.experiments.run_sweep`), and a rerun skips the jobs
already there, whichever executor ran them.

- ``local`` (the default, no extra dependency): :func:`gnnhw.recurrent.workers.run_configs`'s pool of spawned
  worker processes, one torch thread each.
- ``ray``: every job is a Ray task (``num_cpus=1``, one torch thread) on the cluster at ``address``, or on a Ray
  instance started here with ``workers`` CPUs when ``address`` is ``None``. A task whose worker process dies
  (killed, out of memory, its node lost) is run again, up to :data:`MAX_RETRIES` times (Ray's ``max_retries``);
  an exception raised *by* the job is not retried and propagates here as itself. If the driver is interrupted,
  the tasks still pending are cancelled. Ray is the optional extra ``gnnhw[ray]``
  (``pip install 'gnnhw[ray]'``; https://docs.ray.io/en/latest/ray-core/tasks.html).

Raises (both): :class:`gnnhw.errors.ExecutorError` for an unknown executor, Ray missing, or a cluster that cannot
be reached within :data:`CONNECT_TIMEOUT` seconds.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from gnnhw.errors import ExecutorError

EXECUTORS = ("local", "ray")
MAX_RETRIES = 3  # reruns of a task whose worker died (Ray's max_retries)
CONNECT_TIMEOUT = 20.0  # seconds for Ray to answer at --address (after <= 5 s to reach it): a clear error, no hang
INSTALL_HINT = "pip install 'gnnhw[ray]'"
LOCAL_NODE_IP = "127.0.0.1"  # the address of a Ray instance started by gnnhw for itself

Item = TypeVar("Item")


def check_executor(executor: str, address: str | None = None) -> None:
    """Refuse (:class:`ExecutorError`) an unknown ``executor``, an ``address`` without ``ray``, ``ray`` without
    Ray installed, or an ``address`` that refuses connections or is not HOST:PORT, before any work starts.

    >>> check_executor("local")
    >>> check_executor("slurm")
    Traceback (most recent call last):
    ...
    gnnhw.errors.ExecutorError: unknown executor 'slurm'; expected one of local, ray
    """
    if executor not in EXECUTORS:
        raise ExecutorError(f"unknown executor {executor!r:.40}; expected one of {', '.join(EXECUTORS)}")
    if address is not None and executor != "ray":
        raise ExecutorError(f"--address {address!r:.80} applies only to --executor ray; add --executor ray or drop it")
    if executor == "ray":
        _import_ray()
        if address is not None:
            _check_reachable(address, CONNECT_TIMEOUT)  # seconds at most; whether it is Ray: at the start


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """``"ray://h:10001"`` or ``"h:6379"`` -> ``("h", port)``; ``None`` for ``"auto"`` / ``"local"``."""
    if address in ("auto", "local"):
        return None
    rest = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(
            f"--address {address!r:.80} is not HOST:PORT (e.g. 10.0.0.1:6379, or ray://10.0.0.1:10001 for a Ray "
            "client server), 'auto' for the cluster started on this machine with `ray start`"
        )
    return host.strip("[]"), int(port)


def _check_reachable(address: str, timeout: float) -> None:
    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=min(timeout, 5.0)):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ExecutorError(
            f"cannot reach the Ray cluster at {address!r:.80} ({reason}); start it with `ray start --head` on its "
            "head node, or fix --address"
        ) from None


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, timeout: float | None = None) -> Iterator[Any]:
    """The ``ray`` module, connected: to ``address`` (HOST:PORT, ``ray://HOST:PORT`` or ``"auto"``), to the Ray
    instance this process already joined (``ray.is_initialized()``: it is kept afterwards), or else to a local
    instance started here with ``num_cpus`` CPUs and shut down on exit.

    Raises:
        ExecutorError: Ray is not installed, or the cluster cannot be reached within ``timeout`` seconds
            (default :data:`CONNECT_TIMEOUT`; plus at most 5 s to open a connection).
    """
    ray = _import_ray()
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    if ray.is_initialized():
        yield ray
        return
    if address is not None:
        _check_reachable(address, timeout)  # a refused or unroutable address fails here, in seconds
        _probe(address, timeout)  # reachable, but is it Ray? asked in a child process that can be stopped
    try:
        if address is None:
            # Only this process uses it: bind it to the loopback address (on hosts whose own address does not
            # route back to themselves, Ray's GCS is otherwise unreachable and ray.init hangs).
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=False,
                _node_ip_address=LOCAL_NODE_IP,
            )
        else:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except Exception as err:  # Ray raises ConnectionError, RuntimeError, ValueError ... for a bad address
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExecutorError(
            f"could not start or join Ray at {address or 'a new local instance'!r:.80}: {reason:.200}"
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


_PROBE = "import sys, ray; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False); ray.shutdown()"


def _probe(address: str, timeout: float) -> None:
    """Join the cluster at ``address`` once from a child process, stopped after ``timeout`` seconds: ``ray.init``
    must run in the main thread and can wait for minutes on an address that is not a Ray head."""
    import subprocess
    import sys

    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, address], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ExecutorError(
            f"no answer from a Ray cluster at {address!r:.80} within {timeout:g} s (is it a Ray head node? "
            "`ray status --address ...` checks); fix --address or use --executor local"
        ) from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise ExecutorError(
            f"could not join the Ray cluster at {address!r:.80}: {(lines[-1] if lines else 'no reason given'):.200}"
        )


def _ray_task(job: Callable[[Any], Any], item: Any) -> Any:
    """The body of each Ray task: one torch thread (the tasks, not the threads, use the cores), then the job."""
    import torch

    torch.set_num_threads(1)
    return job(item)


def run_on_ray(
    job: Callable[[Item], Any],
    items: Sequence[Item],
    on_done: Callable[[Item, Any], None],
    *,
    address: str | None = None,
    workers: int | None = None,
    max_retries: int = MAX_RETRIES,
) -> None:
    """Run ``job(item)`` for every item as Ray tasks; call ``on_done(item, result)`` here as each finishes.

    ``job`` must be importable by the workers (a module-level function of an installed package). Tasks are
    submitted all at once; Ray schedules them on the free CPUs of the cluster. See the module docstring for
    retries, errors and interruption.

    Raises:
        ExecutorError: see :func:`ray_session`; or a task's worker died more than ``max_retries`` times.
        Whatever ``job`` raises (the first failure; the other tasks are cancelled).
    """
    if not items:
        return
    with ray_session(address, num_cpus=workers) as ray:
        from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError

        remote = ray.remote(num_cpus=1, max_retries=max_retries, retry_exceptions=False)(_ray_task)
        pending = {remote.remote(job, item): item for item in items}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    item = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except RayTaskError as err:  # the job raised: re-raise its own exception here
                        cause = getattr(err, "cause", None)
                        if isinstance(cause, BaseException):
                            raise cause from None
                        raise
                    except (WorkerCrashedError, TaskCancelledError) as err:
                        raise ExecutorError(
                            f"a Ray worker died {max_retries + 1} times running the job for {item!r:.120} "
                            f"({type(err).__name__}); check the nodes' memory and logs (`ray logs`)"
                        ) from None
                    on_done(item, result)
        except BaseException:  # an error, Ctrl-C or SIGTERM: no task may keep running for a driver that is gone
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise


def map_jobs(
    job: Callable[[Item], Any],
    items: Sequence[Item],
    *,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    on_done: Callable[[Item, Any], None] | None = None,
) -> list[Any]:
    """``[job(item) for item in items]``, in the items' order, run by ``executor``.

    ``"local"`` runs them here, one after another (what the commands without a process pool did before);
    ``"ray"`` runs them as Ray tasks (:func:`run_on_ray`). ``on_done(item, result)`` is called here as each
    finishes (e.g. to advance a progress bar).

    >>> map_jobs(abs, [-2, 3])
    [2, 3]
    """
    check_executor(executor, address)
    results: dict[int, Any] = {}
    if executor == "local":
        for i, item in enumerate(items):
            results[i] = job(item)
            if on_done is not None:
                on_done(item, results[i])
        return [results[i] for i in range(len(items))]

    def done(index_item: tuple[int, tuple[Callable[[Item], Any], Item]], result: Any) -> None:
        results[index_item[0]] = result
        if on_done is not None:
            on_done(index_item[1][1], result)

    run_on_ray(_indexed, [(i, (job, item)) for i, item in enumerate(items)], done, address=address, workers=workers)
    return [results[i] for i in range(len(items))]


def _indexed(index_item: tuple[int, tuple[Callable[[Any], Any], Any]]) -> Any:
    _, (job, item) = index_item
    return job(item)
