"""Which backend runs the jobs: real Bedrock, or the offline sandbox when AWS is not configured."""

from __future__ import annotations

from services.aws.clients import has_credentials
from services.platform.config import Settings


def resolve_backend(settings: Settings) -> str:
    if settings.backend is not None:
        return settings.backend
    return "bedrock" if has_credentials() else "sandbox"
