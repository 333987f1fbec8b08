"""How long a job may wait on something that does not answer, and what the requester is told at the end.

Pure: no I/O. A job on Bedrock whose status cannot be read is asked again with a growing delay (each
wait about as long as the job has been unreadable, capped), and fails once the configured bound has
passed; a job Bedrock says it does not know fails at once, since asking again cannot change that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 900.0  # never wait more than 15 minutes between two reads


def next_read_at(since: datetime, now: datetime, poll_seconds: float) -> datetime:
    """When to ask Bedrock again about a job unreadable since ``since``: backoff doubling with time."""
    unreadable = (now - since).total_seconds()
    delay = min(MAX_RETRY_SECONDS, max(FIRST_RETRY_SECONDS, poll_seconds / 2, unreadable))
    return now + timedelta(seconds=delay)


def gives_up(since: datetime, now: datetime, bound_seconds: float) -> bool:
    return (now - since).total_seconds() >= bound_seconds


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


NOT_KNOWN_HINT = "launch it again if you still need it"
UNREADABLE_HINT = (
    "the job may still be running on Bedrock: check it in the Bedrock console (stop it there if it is), "
    "and launch again once Bedrock answers"
)


def not_known_reason(code: str) -> str:
    return (
        f"Bedrock no longer knows this job ({code}): it was deleted, or tunebot now points at another "
        "AWS account or region. tunebot stopped following it and freed its slot"
    )


def unreadable_reason(code: str, message: str, seconds: float) -> str:
    said = f": {message}" if message else ""
    return (
        f"tunebot could not read this job's status from Bedrock for {_duration(seconds)} ({code}{said}), "
        "so it stopped following the job and freed its slot"
    )


def metrics_unreadable_note(code: str, seconds: float) -> str:
    return (
        f"its metrics could not be read from S3 for {_duration(seconds)} ({code}), so it completed without "
        "a loss curve; the files stay under the job's output prefix"
    )
