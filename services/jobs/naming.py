"""Job names people can type: readable, unique defaults from the dataset's name, and the rule a chosen
name must follow. Pure: the taken names are handed in; the database's unique index has the last word.

A name is what a user types after ``/finetune status`` or ``tunebot jobs cancel``, so it is short, has
no spaces, and never looks like a job id (an id is tried first when a name or id is looked up).
"""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_LENGTH = 63
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ID_SHAPE = re.compile(r"^[0-9a-f]{32}$")  # services.platform.tables.new_id
# What a shared file or a source's name ends with; never part of a job's name (`charts.zip` -> `charts`).
DATASET_SUFFIXES = (
    ".zip", ".jsonl", ".json", ".csv", ".tsv", ".xlsx", ".parquet", ".arrow", ".pdf", ".gz", ".tar",
)  # fmt: skip
# Room for "-11b" and a "-NNN" counter inside MAX_LENGTH.
STEM_LENGTH = MAX_LENGTH - len("-11b") - len("-999")
FALLBACK_STEM = "dataset"


def dataset_stem(dataset_name: str) -> str:
    """The readable part of a dataset's name: last path part, no file extension, lowercase words
    joined by '-' (``s3://b/raw/My Charts.zip`` -> ``my-charts``)."""
    last = dataset_name.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    stripped = True
    while stripped:
        stripped = False
        for suffix in DATASET_SUFFIXES:
            if last.endswith(suffix) and len(last) > len(suffix):
                last, stripped = last[: -len(suffix)], True
    stem = re.sub(r"[^a-z0-9]+", "-", last).strip("-")[:STEM_LENGTH].strip("-")
    return stem or FALLBACK_STEM


def first_free(base: str, taken: Collection[str]) -> str:
    """``base`` if no job has it, else ``base-2``, ``base-3`` … — the first one free."""
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def default_names(dataset_name: str, models: Collection[str], taken: Collection[str]) -> list[str]:
    """One free name per model: ``charts-11b``, or ``charts-11b-2`` when that one is taken."""
    stem = dataset_stem(dataset_name)
    return [first_free(f"{stem}-{model}", taken) for model in models]


def chosen_names(name: str, models: Collection[str]) -> list[str]:
    """A user's name for a launch: the name itself for one size, ``name-11b`` and ``name-90b`` for both."""
    if len(models) == 1:
        return [name]
    return [f"{name}-{model}" for model in models]


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a job's name, in words that say what to type instead; None when it can."""
    if len(name) > MAX_LENGTH - len("-11b"):
        return f"name: at most {MAX_LENGTH - len('-11b')} characters, e.g. `{dataset_stem(name)[:40]}`"
    if not NAME_RULE.match(name):
        return (
            "name: use letters, digits, '-', '_' and '.' only, starting with a letter or digit "
            f"(no spaces), e.g. `{dataset_stem(name)}`"
        )
    if ID_SHAPE.match(name):
        return "name: that looks like a job id; choose a name with words in it, e.g. `charts-v2`"
    return None
