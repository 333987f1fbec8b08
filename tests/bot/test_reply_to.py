"""The bot's format for where an outcome goes: what it writes it reads back, it stays far inside the
service's bound, and text it did not write reads as nowhere (logged), never as an exception."""

from __future__ import annotations

import logging

import pytest

from bot.reply_to import ReplyTo, decode, encode
from services.api.schemas.common import REPLY_TO_LENGTH
from services.platform.tables import REPLY_TO_LENGTH as COLUMN_LENGTH


def test_a_place_reads_back_as_written_and_leaves_out_what_it_lacks() -> None:
    card = ReplyTo("C0123ABCD", "1700000000.000100", "1700000001.000200")

    assert decode(card.encode()) == card
    assert encode("C0123ABCD") == '{"channel":"C0123ABCD"}'  # compact: no spaces, no nulls
    assert decode(encode("D042", None, "1.2")) == ReplyTo("D042", None, "1.2")
    assert decode(ReplyTo("C1").with_message("9.9").encode()) == ReplyTo("C1", None, "9.9")


def test_no_channel_means_nowhere_to_post() -> None:
    assert encode(None) is None and encode("", "1.2") is None
    assert decode(None) is None and decode("") is None


def test_the_longest_place_fits_the_services_bound() -> None:
    longest = ReplyTo("C" * 32, "1" * 32, "2" * 32).encode()
    assert len(longest) < REPLY_TO_LENGTH == COLUMN_LENGTH


@pytest.mark.parametrize(
    "text",
    [
        "C0123",  # not JSON
        "[1, 2]",  # JSON, not an object
        '{"thread_ts": "1.2"}',  # no channel
        '{"channel": 7}',  # not text
        '{"channel": "C1", "team": "T1"}',  # a part this bot does not know (a newer bot's)
        '{"channel": "C1 <!here>"}',  # not a Slack id
        '{"channel": "' + "C" * 33 + '"}',  # longer than any Slack id
    ],
)
def test_text_it_did_not_write_reads_as_nowhere_and_is_logged(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.reply_to"):
        assert decode(text, subject="launch group g1") is None
    [record] = caplog.records
    assert record.subject == "launch group g1"  # type: ignore[attr-defined]
    assert text not in record.getMessage()  # the stored text itself is not logged
