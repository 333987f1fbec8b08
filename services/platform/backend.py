"""Which backend runs the jobs: real Bedrock, or the offline sandbox when AWS is not configured."""

from __future__ import annotations

import boto3

from services.platform.config import Settings


def resolve_backend(settings: Settings) -> str:
    if settings.backend is not None:
        return settings.backend
    credentials = boto3.session.Session().get_credentials()
    return "bedrock" if credentials is not None else "sandbox"
