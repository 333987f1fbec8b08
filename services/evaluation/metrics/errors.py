"""The one way a metric refuses a test set: a reference it cannot score."""

from __future__ import annotations


class InvalidReference(ValueError):
    """A reference answer cannot be scored with the chosen metric (e.g. not JSON for `json`)."""

    def __init__(self, example_id: str, message: str) -> None:
        super().__init__(f"example {example_id!r}: {message}")
        self.example_id = example_id
