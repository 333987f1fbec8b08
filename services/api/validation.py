"""A refused request field in tunebot's words: what the field must be, never the validation library's text.

Pydantic says "String should match pattern '^[^\\x00]*$'"; a user (in Slack, or at the CLI) needs to
hear what to type instead. Each error type Pydantic reports is worded here from its ``ctx``; a type not
listed still gets a plain sentence naming the field, so no library wording reaches anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _limit(ctx: Mapping[str, Any], key: str) -> str:
    return str(ctx.get(key, "?"))


def _choices(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", "")).replace("'", "")
    return f"one of {expected}" if expected else "one of the listed values"


WORDING: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda _ctx: "is required",
    "extra_forbidden": lambda _ctx: "is not a field this request takes: remove it",
    "string_type": lambda _ctx: "must be text",
    "string_too_short": lambda ctx: f"must have at least {_limit(ctx, 'min_length')} character(s)",
    "string_too_long": lambda ctx: f"must have at most {_limit(ctx, 'max_length')} characters",
    "string_pattern_mismatch": lambda _ctx: (
        "has characters it cannot hold (letters, digits, '-', '_' and '.' are safe)"
    ),
    "int_parsing": lambda _ctx: "must be a whole number",
    "int_type": lambda _ctx: "must be a whole number",
    "int_from_float": lambda _ctx: "must be a whole number",
    "float_parsing": lambda _ctx: "must be a number",
    "float_type": lambda _ctx: "must be a number",
    "bool_parsing": lambda _ctx: "must be true or false",
    "bool_type": lambda _ctx: "must be true or false",
    "greater_than_equal": lambda ctx: f"must be at least {_limit(ctx, 'ge')}",
    "greater_than": lambda ctx: f"must be more than {_limit(ctx, 'gt')}",
    "less_than_equal": lambda ctx: f"must be at most {_limit(ctx, 'le')}",
    "less_than": lambda ctx: f"must be less than {_limit(ctx, 'lt')}",
    "literal_error": lambda ctx: f"must be {_choices(ctx)}",
    "enum": lambda ctx: f"must be {_choices(ctx)}",
    "too_short": lambda ctx: f"must have at least {_limit(ctx, 'min_length')} item(s)",
    "too_long": lambda ctx: f"must have at most {_limit(ctx, 'max_length')} item(s)",
    "list_type": lambda _ctx: "must be a list",
    "dict_type": lambda _ctx: "must be an object",
    "model_type": lambda _ctx: "must be an object",
    "model_attributes_type": lambda _ctx: "must be an object",
    "json_invalid": lambda _ctx: "is not valid JSON: send a JSON object",
    "json_type": lambda _ctx: "is not valid JSON: send a JSON object",
    "url_parsing": lambda _ctx: "must be a URL",
    "datetime_parsing": lambda _ctx: "must be a date and time (ISO 8601)",
}


def describe(error: Mapping[str, Any]) -> str:
    """What is wrong with the field of one Pydantic error, as a phrase following the field's name."""
    kind = str(error.get("type", ""))
    if kind == "value_error":  # raised by our own validators: their message is already ours
        return str((error.get("ctx") or {}).get("error", "is not a value it takes"))
    wording = WORDING.get(kind)
    if wording is None:
        return "is not a value it takes"
    return wording(error.get("ctx") or {})


def field_and_message(error: Mapping[str, Any]) -> tuple[str | None, str]:
    """The field at fault (dotted, without "body"/"query"/"path") and the sentence a user reads."""
    where = tuple(error.get("loc", ()))
    location = [str(part) for part in where if part not in ("body", "query", "path")]
    if where[:1] == ("query",):  # a repeated query parameter (?status=a&status=b) is named as typed
        location = [part for part in location if not part.isdigit()]
    # Malformed JSON is located by its character offset ("body", 12): the field at fault is the body.
    field = "body" if error.get("type") == "json_invalid" else ".".join(location) or None
    what = describe(error)
    return field, f"{field}: {what}" if field else f"the request {what}"
