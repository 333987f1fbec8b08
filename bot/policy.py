"""Who may do what in Slack: pure decisions from the settings' lists of admins and channels. No I/O.

- a launch happens only in an allowed channel (any channel when none is configured); in a DM with the
  bot only when DMs are allowed (TUNEBOT_ALLOW_DMS; unset: allowed exactly when no allow-list is set);
- a job is cancelled by who launched it or by an admin;
- only an admin approves a launch the service found above the cost cap; with no admins configured
  nobody can, so such a launch is refused with the service's reason instead of waiting forever.
"""

from __future__ import annotations

from collections.abc import Collection


def is_direct_message(channel: str) -> bool:
    return channel.startswith("D")  # Slack's DM channel ids start with D


def dms_allowed(allowed_channels: Collection[str], allow_dms: bool | None) -> bool:
    return allow_dms if allow_dms is not None else not allowed_channels


def launch_allowed_in(channel: str, allowed_channels: Collection[str], allow_dms: bool | None = None) -> bool:
    if is_direct_message(channel):
        return dms_allowed(allowed_channels, allow_dms)
    return not allowed_channels or channel in allowed_channels


def may_cancel(requested_by: str, user: str, admins: Collection[str]) -> bool:
    return requested_by == user or user in admins


def may_approve(user: str, admins: Collection[str]) -> bool:
    return user in admins


def approval_can_be_asked(admins: Collection[str]) -> bool:
    """Whether a launch above the cost cap waits for an admin (True) or is refused at once (False)."""
    return bool(admins)
