"""Fixtures the sweep tests share with the job service tests (moto in process)."""

from tests.jobs.conftest import aws  # noqa: F401  (fixture)
