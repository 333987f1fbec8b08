"""Block Kit as Slack checks it, for the Slack stand-in: what Slack refuses, in the words Slack uses.

Slack answers a refused message with ``{"ok": false, "error": "invalid_blocks", "errors": [...]}``, each
error naming the offending field by JSON pointer, e.g. ``"`action_id` \\"x\\" already exists
[json-pointer:/blocks/0/elements/1/action_id]"`` (reference/slack.md, seen against Slack). Sources for the
rules and limits below (Slack's own reference):
- blocks: https://docs.slack.dev/reference/block-kit/blocks (50 blocks a message, 100 in a modal or Home
  tab; block_id up to 255 characters and unique within a message or view, "If a message is updated, use
  a new block_id");
- section: https://docs.slack.dev/reference/block-kit/blocks/section-block (text 1-3,000 characters, up
  to 10 fields of up to 2,000 each, text or fields required);
- actions: https://docs.slack.dev/reference/block-kit/blocks/actions-block (up to 25 elements);
- context: https://docs.slack.dev/reference/block-kit/blocks/context-block (up to 10 elements);
- header: https://docs.slack.dev/reference/block-kit/blocks/header-block (plain_text up to 150);
- button: https://docs.slack.dev/reference/block-kit/block-elements/button-element (text 75, action_id
  255 and unique among the action_ids of its block, value 2,000, url 3,000, style primary|danger);
- modal views: https://docs.slack.dev/reference/views/modal-views (title, submit and close plain_text of
  up to 24 characters; submit required with an input block; private_metadata 3,000; callback_id 255).
A field Slack does not define is refused too (Slack's schemas are closed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100

Json = Any
Check = Callable[[Json, str, list[str]], None]


def _error(errors: list[str], message: str, pointer: str) -> None:
    errors.append(f"{message} [json-pointer:{pointer}]")


def _closed(item: Mapping[str, Any], allowed: set[str], pointer: str, errors: list[str]) -> None:
    for key in item:
        if key not in allowed:
            _error(errors, f"unsupported field `{key}`", f"{pointer}/{key}")


def _length(value: Any, low: int, high: int, pointer: str, errors: list[str]) -> None:
    if not isinstance(value, str):
        _error(errors, "must be a string", pointer)
    elif len(value) < low:
        _error(errors, f"must be more than {low - 1} characters", pointer)
    elif len(value) > high:
        _error(errors, f"must be less than {high + 1} characters", pointer)


def _items(value: Any, low: int, high: int, pointer: str, errors: list[str]) -> list[Any]:
    if not isinstance(value, list):
        _error(errors, "must be an array", pointer)
        return []
    if len(value) < low:
        _error(errors, f"must provide at least {low} items", pointer)
    if len(value) > high:
        _error(errors, f"no more than {high} items allowed", pointer)
    return value


def text_object(item: Json, pointer: str, errors: list[str], limit: int, plain_only: bool = False) -> None:
    if not isinstance(item, dict):
        _error(errors, "must be an object", pointer)
        return
    kind = item.get("type")
    if kind == "plain_text":
        _closed(item, {"type", "text", "emoji"}, pointer, errors)
    elif kind == "mrkdwn" and not plain_only:
        _closed(item, {"type", "text", "verbatim"}, pointer, errors)
    else:
        wanted = "plain_text" if plain_only else "plain_text or mrkdwn"
        _error(errors, f"must be {wanted}", f"{pointer}/type")
    _length(item.get("text"), 1, limit, f"{pointer}/text", errors)


def _action_id(item: Mapping[str, Any], pointer: str, errors: list[str], seen: set[str]) -> None:
    action_id = item.get("action_id")
    if action_id is None:
        return
    _length(action_id, 1, 255, f"{pointer}/action_id", errors)
    if action_id in seen:
        _error(errors, f'`action_id` "{action_id}" already exists', f"{pointer}/action_id")
    seen.add(str(action_id))


def _option(item: Json, pointer: str, errors: list[str]) -> None:
    if not isinstance(item, dict):
        _error(errors, "must be an object", pointer)
        return
    _closed(item, {"text", "value", "description", "url"}, pointer, errors)
    text_object(item.get("text"), f"{pointer}/text", errors, 75, plain_only=True)
    _length(item.get("value"), 1, 150, f"{pointer}/value", errors)


def _button(item: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    allowed = {"type", "text", "action_id", "url", "value", "style", "confirm", "accessibility_label"}
    _closed(item, allowed, pointer, errors)
    text_object(item.get("text"), f"{pointer}/text", errors, 75, plain_only=True)
    if "value" in item:
        _length(item["value"], 1, 2_000, f"{pointer}/value", errors)
    if "url" in item:
        _length(item["url"], 1, 3_000, f"{pointer}/url", errors)
    if "style" in item and item["style"] not in ("primary", "danger"):
        _error(errors, "must be one of primary, danger", f"{pointer}/style")


def _static_select(item: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    allowed = {"type", "action_id", "options", "option_groups", "initial_option", "confirm"}
    _closed(item, allowed | {"focus_on_load", "placeholder"}, pointer, errors)
    options = _items(item.get("options"), 1, 100, f"{pointer}/options", errors)
    for index, option in enumerate(options):
        _option(option, f"{pointer}/options/{index}", errors)
    if "initial_option" in item:
        _option(item["initial_option"], f"{pointer}/initial_option", errors)
        if item["initial_option"] not in options:
            _error(errors, "must match one of the options", f"{pointer}/initial_option")
    if "placeholder" in item:
        text_object(item["placeholder"], f"{pointer}/placeholder", errors, 150, plain_only=True)


def _plain_text_input(item: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    allowed = {"type", "action_id", "initial_value", "multiline", "min_length", "max_length"}
    _closed(item, allowed | {"dispatch_action_config", "focus_on_load", "placeholder"}, pointer, errors)
    if "initial_value" in item:
        _length(item["initial_value"], 0, 3_000, f"{pointer}/initial_value", errors)
    if "placeholder" in item:
        text_object(item["placeholder"], f"{pointer}/placeholder", errors, 150, plain_only=True)


def _conversations_select(item: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    # https://docs.slack.dev/reference/block-kit/block-elements/select-menu-element (conversations list)
    allowed = {"type", "action_id", "initial_conversation", "default_to_current_conversation", "confirm"}
    allowed |= {"response_url_enabled", "filter", "focus_on_load", "placeholder"}
    _closed(item, allowed, pointer, errors)
    if "filter" in item:
        _closed(
            item["filter"],
            {"include", "exclude_external_shared_channels", "exclude_bot_users"},
            pointer + "/filter",
            errors,
        )
        for kind in item["filter"].get("include", []):
            if kind not in ("im", "mpim", "private", "public"):
                _error(errors, "must be one of im, mpim, private, public", f"{pointer}/filter/include")
    if "placeholder" in item:
        text_object(item["placeholder"], f"{pointer}/placeholder", errors, 150, plain_only=True)


ELEMENTS: dict[str, Callable[[Mapping[str, Any], str, list[str]], None]] = {
    "button": _button,
    "static_select": _static_select,
    "conversations_select": _conversations_select,
    "plain_text_input": _plain_text_input,
}


def element(item: Json, pointer: str, errors: list[str], seen_actions: set[str]) -> None:
    if not isinstance(item, dict):
        _error(errors, "must be an object", pointer)
        return
    check = ELEMENTS.get(str(item.get("type")))
    if check is None:
        _error(errors, f"must be one of {', '.join(sorted(ELEMENTS))}", f"{pointer}/type")
        return
    check(item, pointer, errors)
    _action_id(item, pointer, errors, seen_actions)


def _section(block: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    _closed(block, {"type", "block_id", "text", "fields", "accessory", "expand"}, pointer, errors)
    if "text" not in block and "fields" not in block:
        _error(errors, "must provide either `text` or `fields`", pointer)
    if "text" in block:
        text_object(block["text"], f"{pointer}/text", errors, 3_000)
    if "fields" in block:
        for index, item in enumerate(_items(block["fields"], 1, 10, f"{pointer}/fields", errors)):
            text_object(item, f"{pointer}/fields/{index}", errors, 2_000)
    if "accessory" in block:
        element(block["accessory"], f"{pointer}/accessory", errors, set())


def _context(block: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    _closed(block, {"type", "block_id", "elements"}, pointer, errors)
    for index, item in enumerate(_items(block.get("elements"), 1, 10, f"{pointer}/elements", errors)):
        text_object(item, f"{pointer}/elements/{index}", errors, 3_000)


def _actions(block: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    _closed(block, {"type", "block_id", "elements"}, pointer, errors)
    seen: set[str] = set()
    for index, item in enumerate(_items(block.get("elements"), 1, 25, f"{pointer}/elements", errors)):
        element(item, f"{pointer}/elements/{index}", errors, seen)


def _header(block: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    _closed(block, {"type", "block_id", "text"}, pointer, errors)
    text_object(block.get("text"), f"{pointer}/text", errors, 150, plain_only=True)


def _divider(block: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    _closed(block, {"type", "block_id"}, pointer, errors)


def _input(block: Mapping[str, Any], pointer: str, errors: list[str]) -> None:
    allowed = {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"}
    _closed(block, allowed, pointer, errors)
    text_object(block.get("label"), f"{pointer}/label", errors, 2_000, plain_only=True)
    if "hint" in block:
        text_object(block["hint"], f"{pointer}/hint", errors, 2_000, plain_only=True)
    element(block.get("element"), f"{pointer}/element", errors, set())


MESSAGE_BLOCK_TYPES = {
    "section": _section,
    "context": _context,
    "actions": _actions,
    "header": _header,
    "divider": _divider,
}
VIEW_BLOCK_TYPES = {**MESSAGE_BLOCK_TYPES, "input": _input}


def blocks_errors(blocks: Json, limit: int = MESSAGE_BLOCKS, in_view: bool = False) -> list[str]:
    """What Slack says about ``blocks``; empty when it accepts them."""
    errors: list[str] = []
    kinds = VIEW_BLOCK_TYPES if in_view else MESSAGE_BLOCK_TYPES
    block_ids: set[str] = set()
    for index, block in enumerate(_items(blocks, 0, limit, "/blocks", errors)):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict):
            _error(errors, "must be an object", pointer)
            continue
        check = kinds.get(str(block.get("type")))
        if check is None:
            _error(errors, f"must be one of {', '.join(sorted(kinds))}", f"{pointer}/type")
            continue
        check(block, pointer, errors)
        block_id = block.get("block_id")
        if block_id is not None:
            _length(block_id, 1, 255, f"{pointer}/block_id", errors)
            if block_id in block_ids:
                _error(errors, f'`block_id` "{block_id}" already exists', f"{pointer}/block_id")
            block_ids.add(str(block_id))
    return errors


def view_errors(view: Json) -> list[str]:
    """What Slack says about a modal or Home tab view (views.open, views.update, views.publish)."""
    errors: list[str] = []
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    kind = view.get("type")
    common = {"type", "blocks", "private_metadata", "callback_id", "external_id"}
    if kind == "modal":
        extra = {"title", "submit", "close", "clear_on_close", "notify_on_close", "submit_disabled"}
        _closed(view, common | extra, "/view", errors)
        text_object(view.get("title"), "/view/title", errors, 24, plain_only=True)
        for button in ("submit", "close"):
            if button in view:
                text_object(view[button], f"/view/{button}", errors, 24, plain_only=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and "submit" not in view:
            _error(errors, "`submit` is required when an input block is present", "/view")
    elif kind == "home":
        _closed(view, common, "/view", errors)
    else:
        _error(errors, "must be one of modal, home", "/view/type")
    if "private_metadata" in view:
        _length(view["private_metadata"], 0, 3_000, "/view/private_metadata", errors)
    if "callback_id" in view:
        _length(view["callback_id"], 0, 255, "/view/callback_id", errors)
    errors += [
        error.replace("[json-pointer:/blocks", "[json-pointer:/view/blocks")
        for error in blocks_errors(view.get("blocks"), VIEW_BLOCKS, in_view=True)
    ]
    return errors


def message_errors(message: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """(error code, details) when Slack refuses a message's content, else None.

    Messages: https://docs.slack.dev/reference/methods/chat.postMessage (``no_text`` without text,
    blocks or attachments; ``msg_too_long`` past 40,000 characters; ``invalid_blocks``;
    ``invalid_metadata_format`` unless metadata is ``{event_type, event_payload}``).
    """
    blocks = message.get("blocks")
    text = message.get("text")
    if not text and not blocks and not message.get("attachments"):
        return "no_text", []
    if isinstance(text, str) and len(text) > 40_000:
        return "msg_too_long", []
    if blocks is not None:
        errors = blocks_errors(blocks)
        if errors:
            return "invalid_blocks", errors
    metadata = message.get("metadata")
    if metadata is not None and not _metadata_ok(metadata):
        return "invalid_metadata_format", []
    return None


def _metadata_ok(metadata: Json) -> bool:
    return (
        isinstance(metadata, dict)
        and set(metadata) == {"event_type", "event_payload"}
        and isinstance(metadata["event_type"], str)
        and isinstance(metadata["event_payload"], dict)
    )


def pointer_targets(errors: Sequence[str]) -> list[str]:
    """The JSON pointers the errors name (for tests that say which field was refused)."""
    return [error.rsplit("[json-pointer:", 1)[-1].rstrip("]") for error in errors]
