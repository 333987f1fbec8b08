"""The image stage sends images to a real process pool in small batches: every image gets the outcome it
would get alone, an image asked for while its batch is still open is sent at once, and a batch that
cannot finish fails each of its images instead of leaving anyone waiting."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from services.datasets.images import ImagePolicy
from services.datasets.model import ImageRef
from services.datasets.workers import BATCH_IMAGES, ImageJob, ImageStage, process_image
from tests.datasets.fixtures import make_png


def images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_png(folder / f"chart-{i}.png", seed=i) for i in range(count)]


def test_batched_images_get_the_outcome_each_would_get_alone(tmp_path: Path) -> None:
    paths = images(tmp_path / "in", 2 * BATCH_IMAGES + 1)  # two full batches and one left open
    alone = [
        process_image(ImageJob(ImageRef(path=str(p)), str(tmp_path / "alone"), ImagePolicy())) for p in paths
    ]

    with ProcessPoolExecutor(max_workers=2) as pool:
        stage = ImageStage(pool, tmp_path / "out", ImagePolicy(), None)
        submitted = [stage.submit(ImageRef(path=str(p))) for p in paths]
        again, first = stage.submit(ImageRef(path=str(paths[0])))
        # The last image's batch is not full: asking for it sends it rather than waiting for ever.
        outcomes = [future.result(timeout=60) for future, _ in submitted]
        stage.close()

    assert [outcome.image for outcome in outcomes] == [outcome.image for outcome in alone]
    assert [was_first for _, was_first in submitted] == [True] * len(paths)
    assert not first and again.result(timeout=60) == outcomes[0]  # an image seen before is not sent again
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.png")) == sorted(
        p.name for p in (tmp_path / "alone").rglob("*.png")
    )


class FailingPool(Executor):
    """A pool whose every task fails as a ProcessPoolExecutor's does when a worker is killed."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(BrokenProcessPool("a worker process terminated abruptly"))
        return future


def test_a_batch_that_cannot_finish_fails_each_of_its_images(tmp_path: Path) -> None:
    paths = images(tmp_path / "in", BATCH_IMAGES)
    stage = ImageStage(FailingPool(), tmp_path / "out", ImagePolicy(), None)

    futures = [stage.submit(ImageRef(path=str(p)))[0] for p in paths]

    for future in futures:
        with pytest.raises(BrokenProcessPool):
            future.result(timeout=5)
    stage.close()


def test_a_batch_the_pool_cancels_cancels_each_of_its_images(tmp_path: Path) -> None:
    class CancellingPool(Executor):  # as a pool shut down with cancel_futures=True does to queued work
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            future: Future[Any] = Future()
            future.cancel()
            return future

    stage = ImageStage(CancellingPool(), tmp_path / "out", ImagePolicy(), None)
    futures = [stage.submit(ImageRef(path=str(p)))[0] for p in images(tmp_path / "in", BATCH_IMAGES)]

    for future in futures:
        with pytest.raises(CancelledError):
            future.result(timeout=5)


def test_images_still_batched_when_reading_stops_are_not_sent(tmp_path: Path) -> None:
    sent: list[object] = []

    class RecordingPool(FailingPool):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            sent.append(args)
            return super().submit(fn, *args, **kwargs)

    stage = ImageStage(RecordingPool(), tmp_path / "out", ImagePolicy(), None)
    future, _ = stage.submit(ImageRef(path=str(images(tmp_path / "in", 1)[0])))

    stage.close()

    assert future.cancelled() and sent == []
