"""The gallery of an evaluated job, or of an 11B/90B pair, from its stored per-example answers.

Reads each evaluation's rows (prediction and F1 per example), the job's held-out test set for the
question, the references and the picture, chooses the rows (``select``) and draws them (``render``).
A gallery is drawn once per job (or pair) and set, and kept beside the comparison charts: the
evaluations it reads are final.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.gallery.render import GalleryRow, render_gallery
from services.evaluation.gallery.select import (
    ROWS_PER_SET,
    ROWS_PER_SET_IN_ALL,
    TITLES,
    Answer,
    GallerySet,
    ScoredExample,
    disagree_most,
    helped_most,
    hurt_most,
)
from services.evaluation.model import EvaluationStatus
from services.evaluation.records import BASE, FINE_TUNED
from services.evaluation.testset import (
    TEST_FILE,
    DatasetLocation,
    DatasetSource,
    HeldOutExample,
    TestSetError,
    dataset_files,
    read_test_examples,
)
from services.platform.config import Settings
from services.platform.errors import Conflict, NotFound
from services.platform.tables import Dataset, Evaluation, EvaluationExample, Job, JobGroup

NOT_EVALUATED = "is not evaluated yet: its gallery appears once its base and fine-tuned models are scored"


def gallery_path(settings: Settings, kind: str, owner_id: str, which: GallerySet) -> Path:
    return Path(settings.data_dir) / "gallery" / kind / owner_id / f"{which.value}.png"


def _files(settings: Settings, session: Session, job: Job) -> DatasetSource:
    dataset = session.get(Dataset, job.dataset_id)
    local = Path(settings.data_dir) / "datasets" / job.dataset_id
    location = DatasetLocation(
        job.dataset_id, local if local.is_dir() else None, dataset.s3_uri if dataset is not None else None
    )
    return dataset_files(settings, location)  # the sandbox's settings carry its stand-in's credentials


def _answers(session: Session, evaluation_id: str) -> dict[str, Answer]:
    rows = session.execute(
        select(EvaluationExample.example_id, EvaluationExample.prediction, EvaluationExample.f1).where(
            EvaluationExample.evaluation_id == evaluation_id
        )
    )
    return {example_id: Answer(prediction or "", float(f1)) for example_id, prediction, f1 in rows}


def _scored(session: Session, job: Job, examples: Mapping[str, HeldOutExample]) -> dict[str, ScoredExample]:
    evaluations = {
        row.variant: row for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job.id))
    }
    if any(
        evaluations.get(variant) is None or evaluations[variant].status != EvaluationStatus.DONE
        for variant in (BASE, FINE_TUNED)
    ):
        raise Conflict("not_evaluated", f"job {job.name} {NOT_EVALUATED}", "job_id")
    base, tuned = _answers(session, evaluations[BASE].id), _answers(session, evaluations[FINE_TUNED].id)
    scored = {}
    for example_id in sorted(set(base) & set(tuned)):
        example = examples.get(example_id)
        scored[example_id] = ScoredExample(
            example_id=example_id,
            model=job.model,
            question=example.question if example else "(question not found in the test set)",
            references=example.references if example else (),
            base=base[example_id],
            fine_tuned=tuned[example_id],
            image_uri=example.image_uri if example else None,
        )
    return scored


def _image(files: DatasetSource, uri: str | None) -> bytes | None:
    if uri is None:
        return None
    try:
        return files.image(uri)
    except TestSetError:
        return b""  # drawn as "(image unreadable)"


def _points(f1: float) -> str:
    return f"F1 {f1 * 100:.0f}"


def _row(files: DatasetSource, example: ScoredExample) -> GalleryRow:
    size = example.model.upper()
    return GalleryRow(
        image=_image(files, example.image_uri),
        fields=(
            ("question", example.question),
            ("reference", " | ".join(example.references) or "(none)"),
            (f"base {size} ({_points(example.base.f1)})", example.base.text),
            (f"fine-tuned {size} ({_points(example.fine_tuned.f1)})", example.fine_tuned.text),
        ),
    )


def _pair_row(files: DatasetSource, small: ScoredExample, large: ScoredExample) -> GalleryRow:
    return GalleryRow(
        image=_image(files, small.image_uri),
        fields=(
            ("question", small.question),
            ("reference", " | ".join(small.references) or "(none)"),
            (f"base 11B / 90B ({_points(small.base.f1)} / {_points(large.base.f1)})",
             f"{small.base.text}  /  {large.base.text}"),
            (f"fine-tuned 11B ({_points(small.fine_tuned.f1)})", small.fine_tuned.text),
            (f"fine-tuned 90B ({_points(large.fine_tuned.f1)})", large.fine_tuned.text),
        ),
    )  # fmt: skip


def _summary(scored: list[ScoredExample]) -> str:
    better = sum(example.uplift > 0 for example in scored)
    worse = sum(example.uplift < 0 for example in scored)
    return (
        f"SQuAD F1 per example (0-100) on the held-out test set: fine-tuning improved {better:,} and "
        f"worsened {worse:,} of {len(scored):,} answers"
    )


def _helped_and_hurt(
    files: DatasetSource, scored: list[ScoredExample], which: GallerySet
) -> list[GalleryRow]:
    """The rows of one set, or of both with their headings (``ALL``, fewer rows each)."""
    if which == GallerySet.HELPED:
        return [_row(files, example) for example in helped_most(scored, ROWS_PER_SET)]
    if which == GallerySet.HURT:
        return [_row(files, example) for example in hurt_most(scored, ROWS_PER_SET)]
    rows: list[GalleryRow] = []
    for kind, chosen in (
        (GallerySet.HELPED, helped_most(scored, ROWS_PER_SET_IN_ALL)),
        (GallerySet.HURT, hurt_most(scored, ROWS_PER_SET_IN_ALL)),
    ):
        rows.append(GalleryRow(None, (), heading=TITLES[kind] + ("" if chosen else ": none")))
        rows.extend(_row(files, example) for example in chosen)
    return rows


def job_gallery(
    settings: Settings,
    sessions: sessionmaker[Session],
    job_id: str,
    which: GallerySet,
) -> bytes:
    """The job's helped-most or hurt-most image, or both in one (``ALL``), as PNG bytes."""
    if which == GallerySet.DISAGREE:
        raise Conflict(
            "needs_a_pair", "11B and 90B disagree only in a pair: ask for the launch group's gallery", "set"
        )
    return _drawn_once(
        gallery_path(settings, "jobs", job_id, which), lambda: _draw_job(settings, sessions, job_id, which)
    )


def _draw_job(settings: Settings, sessions: sessionmaker[Session], job_id: str, which: GallerySet) -> bytes:
    with sessions() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound("job_not_found", "no job has that id: list jobs with `tunebot jobs list`")
        files = _files(settings, session, job)
        examples = {example.id: example for example in read_test_examples(files.lines(TEST_FILE))}
        scored = list(_scored(session, job, examples).values())
        rows = _helped_and_hurt(files, scored, which)
        return render_gallery(
            f"{job.name}: {TITLES[which]}", rows, sandbox=job.sandbox, note=_summary(scored)
        )


def group_gallery(
    settings: Settings,
    sessions: sessionmaker[Session],
    group_id: str,
    which: GallerySet,
) -> bytes:
    """A pair's image: helped or hurt most across both sizes, where 11B and 90B disagree most, or all
    three in one (``ALL``, the image posted in the launch's thread)."""
    return _drawn_once(
        gallery_path(settings, "groups", group_id, which),
        lambda: _draw_group(settings, sessions, group_id, which),
    )


def _draw_group(
    settings: Settings, sessions: sessionmaker[Session], group_id: str, which: GallerySet
) -> bytes:
    with sessions() as session:
        group = session.get(JobGroup, group_id)
        if group is None:
            raise NotFound("group_not_found", "no launch has that id: it is in the launch thread's footer")
        jobs = {job.model: job for job in session.scalars(select(Job).where(Job.group_id == group_id))}
        if set(jobs) != {"11b", "90b"}:
            raise Conflict(
                "needs_a_pair", "this launch is not an 11B/90B pair: ask for one job's gallery", "group_id"
            )
        files = _files(settings, session, jobs["11b"])
        examples = {example.id: example for example in read_test_examples(files.lines(TEST_FILE))}
        small, large = _scored(session, jobs["11b"], examples), _scored(session, jobs["90b"], examples)
        name = jobs["11b"].name.removesuffix("-11b")
        sandbox = any(job.sandbox for job in jobs.values())
        both = [*small.values(), *large.values()]
        shared = set(small) & set(large)
        differ = sum(small[key].fine_tuned.f1 != large[key].fine_tuned.f1 for key in shared)
        disagreement = f"fine-tuned 11B and 90B score differently on {differ:,} of {len(shared):,} examples"
        if which == GallerySet.DISAGREE:
            rows = [_pair_row(files, pair.small, pair.large) for pair in disagree_most(small, large)]
            note = disagreement
        else:
            rows = _helped_and_hurt(files, both, which)
            note = _summary(both) + " (both sizes)"
        if which == GallerySet.ALL:
            chosen = disagree_most(small, large, ROWS_PER_SET_IN_ALL)
            heading = TITLES[GallerySet.DISAGREE] + ("" if chosen else ": nowhere")
            rows.append(GalleryRow(None, (), heading=heading))
            rows.extend(_pair_row(files, pair.small, pair.large) for pair in chosen)
            note = f"{note}; {disagreement}"
        return render_gallery(f"{name}: {TITLES[which]}", rows, sandbox=sandbox, note=note)


def _drawn_once(path: Path, draw: Callable[[], bytes]) -> bytes:
    """A gallery is drawn once and kept: the scores behind it no longer change once it can be drawn."""
    if path.is_file():
        return path.read_bytes()
    png = draw()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return png
