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
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from services.aws.clients import ClientOptions, s3_client
from services.datasets.pipeline import PrepareOptions, prepare
from services.datasets.report import Report

log = logging.getLogger(__name__)


def run_prepare(source: str, options: PrepareOptions, client_options: ClientOptions | None) -> Report:
    """One check inside the worker: its own S3 client (a boto3 client cannot cross processes)."""
    client = s3_client(client_options) if client_options is not None else None
    return prepare(source, options, s3_client=client)


class CheckRunner:
    """Runs ``prepare`` in one long-lived worker process; a worker that died is replaced."""

    def __init__(self, client_options: ClientOptions | None) -> None:
        self._client_options = client_options
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, source: str, options: PrepareOptions) -> Report:
        """Prepare in the worker and return its report; the pipeline's own exceptions come back as they are.

        A worker that died (killed, out of memory; found dead before the work reached it or during it)
        is replaced and the check sent once more: a check only writes its own folder and its upload
        skips what is already there, so running it again is safe. A second death raises
        ``BrokenProcessPool``.
        """
        try:
            return self._submit(source, options)
        except BrokenProcessPool:
            log.warning("dataset check worker died; starting a new one and checking again")
            self._discard()
        try:
            return self._submit(source, options)
        except BrokenProcessPool:
            self._discard()
            raise

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def worker_pid(self) -> int:
        """The worker's process id, asked of the worker itself (starting it if need be)."""
        return self._executor().submit(os.getpid).result()

    def _submit(self, source: str, options: PrepareOptions) -> Report:
        return self._executor().submit(run_prepare, source, options, self._client_options).result()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            return self._pool

    def _discard(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
