"""One state machine: no job status is spelled as a string outside the job model (services/jobs/model.py),
its migrations and the tests. Everywhere else reads ``JobStatus`` (exported with the wire schemas) or the
rules the API sends with a job (``cancellable``, ``final``), so a renamed or added status cannot be
missed by a copy of the rules somewhere else."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from services.jobs.model import JobStatus

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "bot", "bench")
NOT_SCANNED = ("services/jobs/model.py", "services/platform/migrations/")
STATUSES = {status.value for status in JobStatus}
# The same word in another sense, each with the reason.
OTHER_MEANINGS = {
    ("services/jobs/results.py", "training"): "the loss curve of the training split",
}


def status_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, word) of every string constant equal to a job status, except the values of other enums
    (the dataset's, evaluation's and sweep's own states share words like "done" and "failed")."""
    tree = ast.parse(source)
    in_other_enums: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            (base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")).endswith("Enum")
            for base in node.bases
        ):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
                    in_other_enums.add(id(statement.value))
    found = [
        (node.lineno, node.col_offset, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in STATUSES
        and id(node) not in in_other_enums
    ]
    for line, _column, word in sorted(found):
        yield line, word


def test_the_scan_finds_a_status_rule_written_as_strings_and_passes_enums() -> None:
    rule = 'if job["status"] in ("done", "failed") or job.status == "evaluating":\n    pass\n'
    other_enum = 'class SweepStatus(StrEnum):\n    FAILED = "failed"\n'
    assert [word for _, word in status_literals(rule)] == ["done", "failed", "evaluating"]
    assert list(status_literals(other_enum)) == []


def test_no_job_status_literal_outside_the_job_model() -> None:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(NOT_SCANNED):
                continue
            for line, word in status_literals(path.read_text()):
                if (relative, word) not in OTHER_MEANINGS:
                    found.append(f"{relative}:{line}: {word!r}")
    assert found == [], "use JobStatus or the job's cancellable/final:\n" + "\n".join(found)
