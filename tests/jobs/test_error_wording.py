"""What the service says when it refuses is in tunebot's words: never a validation library's text, an API
route or a request field a user cannot set. The bot and the CLI show these messages as they are."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.jobs.conftest import AUTH, add_dataset, sessions_of

SERVICES = Path(__file__).resolve().parents[2] / "services"
# Pydantic v2's own phrases ("String should match pattern", "Field required", "Input should be …").
LIBRARY_WORDING = re.compile(
    r"should (match|be|have)|Field required|Extra inputs|Input should|value_error|type=|pydantic", re.I
)
JARGON = re.compile(r"/api/v1|\b(GET|POST|PATCH|DELETE) /|approved_by set|Traceback")
ERROR_CLASSES = {"Invalid", "NotFound", "Conflict", "Forbidden", "TooLarge", "Unavailable", "ApiError"}


def launch_body(dataset_id: str, **change: Any) -> dict[str, Any]:
    return {"dataset_id": dataset_id, "models": ["11b"], "requested_by": "U1", **change}


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"models": ["13b"]}, "models.0", "must be one of 11b or 90b"),
        ({"models": []}, "models", "at least 1 item"),
        ({"epochs": "many"}, "epochs", "whole number"),
        ({"epochs": 11}, "epochs", "at most 10"),
        ({"learning_rate": 1e-9}, "learning_rate", "at least 5e-06"),
        ({"requested_by": "U\x001"}, "requested_by", "characters it cannot hold"),
        ({"colour": "blue"}, "colour", "remove it"),
        ({"evaluate": "maybe"}, "evaluate", "true or false"),
        ({"name": ""}, "name", "at least 1 character"),
    ],
)
def test_a_refused_field_is_named_and_explained_in_our_words(
    client: TestClient, change: dict[str, Any], field: str, says: str
) -> None:
    dataset_id = add_dataset(sessions_of(client))
    answer = client.post(
        "/api/v1/jobs", json=launch_body(dataset_id, **change), headers={**AUTH, "Idempotency-Key": "k"}
    )
    assert answer.status_code == 422, answer.json()
    error = answer.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ") and says in error["message"], error["message"]
    assert not LIBRARY_WORDING.search(error["message"]), error["message"]


def test_a_missing_field_and_a_bad_query_are_explained_too(client: TestClient) -> None:
    body = {"models": ["11b"], "requested_by": "U1"}
    missing = client.post("/api/v1/jobs", json=body, headers={**AUTH, "Idempotency-Key": "k"}).json()["error"]
    query = client.get("/api/v1/jobs?limit=0", headers=AUTH).json()["error"]
    status = client.get("/api/v1/jobs?status=sleeping", headers=AUTH).json()["error"]

    assert missing["message"] == "dataset_id: is required"
    assert query["message"] == "limit: must be at least 1"
    assert status["message"].startswith("status: must be one of pending, queued")
    for message in (missing["message"], query["message"], status["message"]):
        assert not LIBRARY_WORDING.search(message), message


def _messages_of_refusals() -> list[tuple[str, int, str]]:
    """Every literal text given to a domain or API error in services/ (f-strings: their literal parts)."""
    found: list[tuple[str, int, str]] = []
    for path in SERVICES.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in ERROR_CLASSES:
                continue
            for argument in node.args:
                for piece in ast.walk(argument):
                    if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                        found.append((str(path.relative_to(SERVICES)), node.lineno, piece.value))
    return found


def test_no_refusal_in_the_service_names_an_api_route_or_a_library() -> None:
    messages = _messages_of_refusals()
    assert len(messages) > 50  # the walk finds the service's refusals
    offending = [(where, line, text) for where, line, text in messages if JARGON.search(text)]
    offending += [(where, line, text) for where, line, text in messages if LIBRARY_WORDING.search(text)]
    assert offending == []


def test_nothing_the_bot_says_names_an_api_route_or_an_api_field() -> None:
    # Every text in bot/ (renderers, replies, hints): the bot passes the service's messages on as they are,
    # so together with the walk above no reply holds a route, a request field or a library's words.
    bot = SERVICES.parent / "bot"
    texts = [
        (str(path.relative_to(bot)), piece.lineno, piece.value)
        for path in bot.rglob("*.py")
        for piece in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(piece, ast.Constant) and isinstance(piece.value, str)
    ]
    assert len(texts) > 200
    api_fields = re.compile(r"\b(approved_by|requested_by|idempotency_key|reply_to)\b")
    sentences = [found for found in texts if " " in found[2].strip()]  # not the JSON keys it reads
    offending = [
        found
        for found in sentences
        if JARGON.search(found[2]) or LIBRARY_WORDING.search(found[2]) or api_fields.search(found[2])
    ]
    assert offending == []
