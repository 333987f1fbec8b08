"""Who may do what (bot.policy): the rules the flows apply, each on its own.

The same rules are exercised end to end through signed requests in tests/bot/flows/ (a launch outside
the allowed channels, a cancel by a non-owner, an approval by a non-admin).
"""

from __future__ import annotations

from bot import policy

ADMINS = ("UADMIN",)


def test_launches_happen_in_the_allowed_channels_and_dms_obey_the_list() -> None:
    assert policy.launch_allowed_in("CTRAIN", ["CTRAIN"])
    assert not policy.launch_allowed_in("CRANDOM", ["CTRAIN"])
    assert policy.launch_allowed_in("CRANDOM", [])  # no list configured: anywhere
    # A DM with the bot: off by default once an allow-list is set, on without one; TUNEBOT_ALLOW_DMS decides.
    assert not policy.launch_allowed_in("D0123", ["CTRAIN"])
    assert policy.launch_allowed_in("D0123", [])
    assert policy.launch_allowed_in("D0123", ["CTRAIN"], allow_dms=True)
    assert not policy.launch_allowed_in("D0123", [], allow_dms=False)


def test_a_job_is_cancelled_by_who_launched_it_or_an_admin() -> None:
    assert policy.may_cancel("U1", "U1", ADMINS)
    assert policy.may_cancel("U1", "UADMIN", ADMINS)
    assert not policy.may_cancel("U1", "U2", ADMINS)


def test_only_admins_approve_and_without_admins_nobody_is_asked() -> None:
    assert policy.may_approve("UADMIN", ADMINS)
    assert not policy.may_approve("U1", ADMINS)
    assert policy.approval_can_be_asked(ADMINS)
    assert not policy.approval_can_be_asked(())
