"""Where the per-sample tasks run: in this process, in threads, in worker processes, or on a dask cluster.

Every executor runs the same :func:`deploy.validation.task.run_chunk` on the same chunks and returns the
outcomes in sample order, so results never depend on the executor or the number of workers.

- ``process`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` started with ``forkserver``
  (``spawn`` where there is none): torch, numba and the simulator kernel are loaded once in the fork server
  (:mod:`deploy.validation.warmup`), never in a process that has already started threads, and workers fork
  from it ready to run. With one worker the chunks run in this process.
- ``thread``: a thread pool in this process (the simulator kernel releases the GIL; the time-stepped views
  mostly do not).
- ``dask``: a ``dask.distributed`` scheduler at ``scheduler`` (``tcp://host:8786``); the task context is
  scattered to the workers once, then the chunks are submitted. dask is imported only here.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deploy.errors import DeployError
from deploy.options import EXECUTORS
from deploy.validation.task import (
    SampleItem,
    SampleOutcome,
    ShippedContext,
    TaskContext,
    run_chunk,
    warm_worker,
)

Progress = Callable[[int, int], None]
"""Called as ``progress(finished_now, total)`` each time a chunk of samples finishes."""

Job = tuple[TaskContext, Sequence[SampleItem]]
"""One model's context and its samples; a sweep runs several jobs in one pool."""

PRELOAD = ("deploy.validation.warmup",)
"""Modules the fork server imports once: torch, numba and the simulator kernel, loaded and run once."""


class ExecutorError(DeployError):
    """An executor cannot be used as asked (unknown name, missing dask, unreachable scheduler)."""


def default_workers() -> int:
    """Worker count when none is given: every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


MAX_CHUNK = 16
"""Most samples in one chunk (the unit of work shipped to a worker)."""


def chunk_items(items: Sequence[SampleItem], workers: int, per_worker: int = 4) -> list[list[SampleItem]]:
    """Split samples into consecutive chunks that shrink towards the end (guided scheduling).

    Each chunk holds about ``1 / (workers · per_worker)`` of the samples still left (at most
    :data:`MAX_CHUNK`, at least one), so the first chunks amortise the per-chunk overhead and the last ones
    are single samples: every worker stays busy until about one sample's time before the end. The split
    depends only on the sample count and ``workers``.
    """
    chunks: list[list[SampleItem]] = []
    start = 0
    while start < len(items):
        size = max(1, min(MAX_CHUNK, (len(items) - start) // (workers * per_worker)))
        chunks.append(list(items[start : start + size]))
        start += size
    return chunks


class Runner:
    """An open executor (see :func:`open_runner`): runs jobs' chunks and returns outcomes in sample order."""

    def __init__(self, kind: str, workers: int, pool: Executor | None = None, client: Any = None) -> None:
        self.kind = kind
        self.workers = workers
        self._pool = pool
        self._client = client

    def run(self, jobs: Sequence[Job], progress: Progress | None = None) -> list[list[SampleOutcome]]:
        """Per job, the outcomes of its samples in their order (identical for every executor)."""
        total = sum(len(items) for _, items in jobs)

        def tick(n: int) -> None:
            if progress is not None:
                progress(n, total)

        chunks = [(j, c) for j, (_, items) in enumerate(jobs) for c in chunk_items(items, self.workers)]
        results: list[dict[int, list[SampleOutcome]]] = [{} for _ in jobs]
        if self._client is not None:
            _run_dask(self._client, jobs, chunks, results, tick)
        elif self._pool is None:
            for k, (j, chunk) in enumerate(chunks):
                results[j][k] = run_chunk(jobs[j][0], chunk)
                tick(len(chunk))
        else:
            pool = self._pool
            # A worker process unpickles each context once (ShippedContext), not once per chunk.
            contexts: list[Any] = [ShippedContext(c) if self.kind == "process" else c for c, _ in jobs]
            futures = {
                pool.submit(run_chunk, contexts[j], chunk): (j, k) for k, (j, chunk) in enumerate(chunks)
            }
            _collect(futures, results, tick)
        return [[o for k in sorted(r) for o in r[k]] for r in results]


@dataclass(frozen=True)
class ExecutorSpec:
    """Where :func:`deploy.validation.validate` runs its per-sample tasks.

    Attributes:
        kind: ``"process"`` (a local process pool), ``"thread"`` or ``"dask"``.
        workers: Workers of a local pool (None: every core); with ``dask`` only the chunk size.
        scheduler: dask scheduler address (``tcp://host:8786``), for ``kind="dask"``.
    """

    kind: str = "process"
    workers: int | None = 1
    scheduler: str | None = None


@contextmanager
def open_runner(
    executor: str = "process", workers: int | None = 1, scheduler: str | None = None
) -> Iterator[Runner]:
    """Start an executor; open it before compiling, so that worker start-up overlaps the compilation.

    Args:
        executor: ``"process"``, ``"thread"`` or ``"dask"``.
        workers: Workers of a local pool (None: every core); with ``dask`` only the chunk size.
        scheduler: dask scheduler address (``tcp://host:8786``), for ``executor="dask"``.

    Raises:
        ExecutorError: Unknown executor, ``dask`` without ``scheduler`` or without dask installed, an
            unreachable scheduler, or a worker count below 1.
    """
    if executor not in EXECUTORS:
        raise ExecutorError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ExecutorError(f"--workers must be ≥ 1, got {n}")
    if executor == "dask":
        with _dask_client(scheduler) as client:
            yield Runner(executor, n, client=client)
    elif n == 1:
        yield Runner(executor, 1)
    else:
        with _pool(executor, n) as pool:
            yield Runner(executor, n, pool=pool)


def run_jobs(
    jobs: Sequence[Job],
    executor: str = "process",
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[list[SampleOutcome]]:
    """Open an executor, run ``jobs`` on it (:meth:`Runner.run`), close it."""
    with open_runner(executor, workers, scheduler) as runner:
        return runner.run(jobs, progress)


def _pool(executor: str, workers: int) -> Executor:
    if executor == "thread":
        return ThreadPoolExecutor(max_workers=workers)
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        from multiprocessing import forkserver

        ctx.set_forkserver_preload(list(PRELOAD))
        forkserver.ensure_running()  # imports torch and numba now, while the parent compiles
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def _collect(
    futures: dict[Any, tuple[int, int]],
    results: list[dict[int, list[SampleOutcome]]],
    tick: Callable[[int], None],
) -> None:
    try:
        for fut in as_completed(futures):
            j, k = futures[fut]
            results[j][k] = fut.result()
            tick(len(results[j][k]))
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def import_distributed() -> Any:
    """``dask.distributed``, or an error saying what to install.

    Raises:
        ExecutorError: dask.distributed is not installed.
    """
    try:
        import distributed
    except ImportError:
        raise ExecutorError(
            "--executor dask needs dask.distributed: pip install 'speck-deploy[cluster]' (or "
            "pip install 'dask[distributed]'), or use --executor process on one machine"
        ) from None
    return distributed


@contextmanager
def _dask_client(scheduler: str | None) -> Iterator[Any]:
    if not scheduler:
        raise ExecutorError(
            "--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786 of a running "
            "`dask scheduler`); see docs/validate.md"
        )
    distributed = import_distributed()
    try:
        client = distributed.Client(scheduler, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(
            f"cannot reach the dask scheduler at {scheduler} ({exc}); start one with `dask scheduler` and "
            "workers with `dask worker ADDRESS`, or check the address"
        ) from None
    with client:
        # Every worker loads torch and the kernel now, while this process compiles the model.
        warming = [  # held until the client closes: a dropped future's task may be cancelled
            client.submit(warm_worker, workers=[address], allow_other_workers=False, pure=False)
            for address in client.scheduler_info().get("workers", {})
        ]
        yield client
        del warming


def _run_dask(
    client: Any,
    jobs: Sequence[Job],
    chunks: list[tuple[int, list[SampleItem]]],
    results: list[dict[int, list[SampleOutcome]]],
    tick: Callable[[int], None],
) -> None:
    contexts = [client.scatter(ctx, broadcast=True) for ctx, _ in jobs]
    futures = {
        client.submit(run_chunk, contexts[j], chunk, pure=False): (j, k)
        for k, (j, chunk) in enumerate(chunks)
    }
    try:
        # In submission order: distributed.as_completed needs a default client, which this one is not.
        for fut, (j, k) in futures.items():
            results[j][k] = fut.result()
            tick(len(results[j][k]))
    except BaseException:
        client.cancel(list(futures))
        raise
