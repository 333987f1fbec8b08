"""What every benchmark shares: the quick mode, the machine's description, results files, waiting for a
server, whole-process-tree peak memory, and a loopback proxy that adds latency to every request."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
TUNEBOT = str(Path(sys.executable).with_name("tunebot"))
# `make bench QUICK=1` (TUNEBOT_BENCH_QUICK=1): smaller sizes for CI-sized machines; the ratios still hold.
QUICK = os.environ.get("TUNEBOT_BENCH_QUICK") == "1"
# The full run's results, which the README's table is written from, are committed in bench/results/. A
# quick run's go to bench/results/quick/ (gitignored), so they can never be committed over the full ones.
# TUNEBOT_BENCH_RESULTS_DIR puts them elsewhere (the tests run the benchmarks on tiny inputs into one).
FULL_RESULTS_DIR = ROOT / "bench" / "results"
_RESULTS_DIR_SET = os.environ.get("TUNEBOT_BENCH_RESULTS_DIR")
if _RESULTS_DIR_SET:
    RESULTS_DIR = Path(_RESULTS_DIR_SET)
else:
    RESULTS_DIR = FULL_RESULTS_DIR / "quick" if QUICK else FULL_RESULTS_DIR


def machine() -> dict[str, Any]:
    """Where and when a figure was measured: the 1-minute load average says how shared the machine was."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "quick": QUICK,
    }


def results_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def write_results(name: str, results: dict[str, Any]) -> Path:
    path = results_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until `tunebot serve` at ``base`` answers /readyz with 200; fails if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("tunebot serve exited before it was ready")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"tunebot serve was not ready within {timeout:.0f} s")


class TreePeakMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled every ``interval`` s.

    A pool's workers are where the image work happens: the parent's own peak alone says little.
    (RSS counts pages shared between a forked parent and its children once per process: an upper bound.)
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._root = psutil.Process(pid)
        self._interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)

    def __enter__(self) -> TreePeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                processes = [self._root, *self._root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue  # a worker that just ended
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self._interval)


class LatencyProxy:
    """A TCP proxy on loopback that holds every HTTP request ``delay`` seconds before passing it on.

    What in-region S3 costs per request, and what makes concurrency matter. Connections are served
    concurrently (asyncio, one thread): a held request never holds up another connection's. A request is
    the first bytes a client sends after the server's answer (HTTP/1.1 without pipelining, as botocore
    speaks it), so a keep-alive connection pays the delay once per request. An interim ``100 Continue``
    is not the answer (RFC 9110 section 15.2: a 1xx response precedes the final one to the same
    request): botocore sends every PutObject with ``Expect: 100-continue``, and the body it then sends
    is the same request, so it is not held a second time.
    """

    def __init__(self, upstream_host: str, upstream_port: int, delay: float) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._delay = delay
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self.port = 0
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LatencyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_writer.close()
            return
        answered = asyncio.Event()
        answered.set()  # the connection's first bytes are a new request

        async def requests() -> None:
            while chunk := await client_reader.read(65536):
                if answered.is_set():  # a new request: hold it
                    answered.clear()
                    self.requests += 1
                    await asyncio.sleep(self._delay)
                upstream_writer.write(chunk)
                await upstream_writer.drain()
            upstream_writer.close()

        async def answers() -> None:
            while chunk := await upstream_reader.read(65536):
                if final_answer_in(chunk):
                    answered.set()
                client_writer.write(chunk)
                await client_writer.drain()
            client_writer.close()

        try:
            await asyncio.gather(requests(), answers())
        except (ConnectionError, OSError):
            pass
        finally:
            client_writer.close()
            upstream_writer.close()


def final_answer_in(chunk: bytes) -> bool:
    """Whether bytes from the server carry more than interim 1xx responses (``HTTP/1.1 100 Continue``,
    which werkzeug may send twice): a chunk inside a final answer's body counts as answer too."""
    while chunk.startswith(b"HTTP/1.1 1") or chunk.startswith(b"HTTP/1.0 1"):
        end = chunk.find(b"\r\n\r\n")
        if end < 0:
            return False
        chunk = chunk[end + 4 :]
    return bool(chunk)


def start_moto_server() -> tuple[subprocess.Popen[bytes], str]:
    """moto as its own process on loopback: its request handling does not share a GIL with the
    benchmark or with the proxy."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/moto-api/", timeout=1)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError("moto_server exited at start") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start within 60 s")
