"""The service's dataset checks run in a worker process, off the server's GIL.

A check is CPU work from end to end (reading records, the checks, the split, writing the files, the
upload), and only the image decoding used to leave the server's process. Run inline, the rest competes
with the request handlers for one GIL, so acknowledgements slow down and the check itself runs several
times slower than ``tunebot prepare`` on the same files. ``CheckRunner`` keeps one worker process
(started on the first check, then reused); inside it ``prepare`` runs exactly as the CLI runs it, its
image work in a pool of processes, one per core. The server's process only claims the row, waits, and
records the outcome.

The worker is started with ``spawn``: the server has threads, and forking a process with threads can
copy a lock held by one of them. Not ``forkserver``: its server process is started once per process and
every worker forks from it, so a worker would see the environment (AWS credentials, endpoint) as it was
when the first check ran, not as it is now. One long-lived worker makes spawn's start-up cost negligible.

Progress comes back as it happens: the worker puts ``prepare``'s reports (one per 50 records) on a queue
the pool hands it at start-up, and a thread here passes each to the callback of the check it belongs to.
A check's last report is followed by an end mark, and ``run`` returns once that mark has been relayed,
so every report reaches its callback before the outcome is recorded.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import count
from multiprocessing.queues import Queue
from typing import Any

from services.aws.clients import ClientOptions, s3_client
from services.datasets.pipeline import PrepareOptions, ProgressCallback, prepare
from services.datasets.report import Report

log = logging.getLogger(__name__)

_progress_queue: Queue[Any] | None = None  # in the worker: where its checks' progress goes
END = "end"  # the mark after a check's last progress report
RELAY_WAIT_SECONDS = 10.0  # for the end mark once the report is back; a lost mark only delays the outcome


def _install_progress_queue(queue: Queue[Any]) -> None:
    global _progress_queue
    _progress_queue = queue


def _send_progress(check: int, stage: str, done: int, total: int | None) -> None:
    if _progress_queue is not None:
        _progress_queue.put((check, stage, done, total))


def run_prepare(
    source: str, options: PrepareOptions, client_options: ClientOptions | None, check: int = 0
) -> Report:
    """One check inside the worker: its own S3 client (a boto3 client cannot cross processes)."""
    client = s3_client(client_options) if client_options is not None else None
    try:
        return prepare(
            source,
            options,
            s3_client=client,
            progress=lambda stage, done, total: _send_progress(check, stage, done, total),
        )
    finally:
        _send_progress(check, END, 0, None)


class CheckRunner:
    """Runs ``prepare`` in one long-lived worker process; a worker that died is replaced."""

    def __init__(self, client_options: ClientOptions | None) -> None:
        self._client_options = client_options
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._progress: Queue[Any] | None = None
        self._listeners: dict[int, tuple[ProgressCallback, threading.Event]] = {}
        self._check_ids = count(1)

    def run(self, source: str, options: PrepareOptions, progress: ProgressCallback | None = None) -> Report:
        """Prepare in the worker and return its report; the pipeline's own exceptions come back as they are.

        A worker that died (killed, out of memory; found dead before the work reached it or during it)
        is replaced and the check sent once more: a check only writes its own folder and its upload
        skips what is already there, so running it again is safe. A second death raises
        ``BrokenProcessPool``. ``progress`` gets the check's progress reports while it runs.
        """
        check, relayed = next(self._check_ids), threading.Event()
        if progress is not None:
            self._listeners[check] = (progress, relayed)
        try:
            report = self._submit_twice(source, options, check)
            if progress is not None:
                relayed.wait(RELAY_WAIT_SECONDS)
            return report
        finally:
            self._listeners.pop(check, None)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            queue, self._progress = self._progress, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if queue is not None:
            queue.put(None)  # stops the thread that relays progress

    def worker_pid(self) -> int:
        """The worker's process id, asked of the worker itself (starting it if need be)."""
        return self._executor().submit(os.getpid).result()

    def _submit_twice(self, source: str, options: PrepareOptions, check: int) -> Report:
        try:
            return self._submit(source, options, check)
        except BrokenProcessPool:
            log.warning("dataset check worker died; starting a new one and checking again")
            self._discard()
        try:
            return self._submit(source, options, check)
        except BrokenProcessPool:
            self._discard()
            raise

    def _submit(self, source: str, options: PrepareOptions, check: int) -> Report:
        return self._executor().submit(run_prepare, source, options, self._client_options, check).result()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._progress is None:
                self._progress = self._context.Queue()
                relay = threading.Thread(
                    target=self._relay, args=(self._progress,), name="check-progress", daemon=True
                )
                relay.start()
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=self._context,
                    initializer=_install_progress_queue,
                    initargs=(self._progress,),
                )
            return self._pool

    def _relay(self, queue: Queue[Any]) -> None:
        """Hand each progress report from the worker to its check's callback, until ``close``."""
        while True:
            try:
                item = queue.get()
            except Exception:  # half a report from a worker that was killed: this queue is done
                return
            if item is None:
                return
            check, stage, done, total = item
            listener, relayed = self._listeners.get(check, (None, None))
            if relayed is not None and stage == END:
                relayed.set()
            elif listener is not None:
                try:
                    listener(stage, done, total)
                except Exception:  # a listener's failure must not stop the progress of later checks
                    log.exception("dataset check progress listener failed")

    def _discard(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            # A worker killed while writing to the queue can leave half a report in it: start afresh.
            queue, self._progress = self._progress, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if queue is not None:
            queue.put(None)
