"""`tunebot prepare` and `tunebot recommend` (being written)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the dataset commands to the `tunebot` app."""
    del app
