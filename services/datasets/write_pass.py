"""Pass 2 of ``prepare``: split the accepted records on their packed keys, warn of duplicates and of
test records leaked from training, and stream the spool into the Bedrock files; this changes when how
a dataset is split or written changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.datasets.model import SourceRef
from services.datasets.options import PrepareOptions, ProgressCallback
from services.datasets.rules import duplicate_warning, find_duplicates, leakage_warning, leaked_test_indices
from services.datasets.split import SplitOutcome, plan_sides
from services.datasets.tally import SPLIT_NAMES, Tally
from services.datasets.writer import EVALUATION_FIELD, IMAGES_DIR, SplitWriter


def second_pass(
    tally: Tally, options: PrepareOptions, spool_path: Path, progress: ProgressCallback | None
) -> SplitOutcome:
    """Split on the packed keys, then stream the spool into the files.

    Each dataset-wide computation runs on its own and lets go of its working set before the next.
    """
    outcome = plan_sides(tally.group_keys, options.split, [SPLIT_NAMES[code] for code in tally.splits])
    sides = outcome.sides
    leaked = set(leaked_test_indices(sides, tally.leak_keys))
    duplicates = find_duplicates(tally.content_keys)
    originals = set(duplicates.values())
    sources_of_originals: dict[int, str] = {}
    with SplitWriter(options.out_dir) as writer, spool_path.open(encoding="utf-8") as spool:
        for index, line in enumerate(spool):
            record = json.loads(line)
            source = record[EVALUATION_FIELD]["source"]
            if index in originals:
                sources_of_originals[index] = source
            if index in duplicates:
                tally.log.add(duplicate_warning(SourceRef(source), sources_of_originals[duplicates[index]]))
            if index in leaked:
                tally.log.add(leakage_warning(SourceRef(source)))
            if tally.orphan_candidates:
                tally.orphan_candidates.difference_update(_image_keys(record))
            writer.write(sides[index], record)
            if progress and index % 200 == 0:
                progress("write", index, len(sides))
    if progress:
        progress("write", len(sides), len(sides))
    return outcome


def _image_keys(record: dict[str, Any]) -> Iterator[str]:
    for message in record["messages"]:
        for item in message["content"]:
            if "image" in item:
                uri: str = item["image"]["source"]["s3Location"]["uri"]
                yield uri[uri.rindex("/" + IMAGES_DIR + "/") + 1 :]
