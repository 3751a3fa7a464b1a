"""A parsed message as JSON for the store (mime/serial.py): round trips, compact form."""

from __future__ import annotations

import pytest

from elektromail.mime import (
    Address,
    BodyPart,
    Envelope,
    ParsedMessage,
    envelope_from_json,
    from_json,
    parse,
    to_json,
)
from tests.mime.messages import (
    FIXTURES,
    GROUP_END,
    PLAIN,
)


@pytest.mark.parametrize("name", FIXTURES)
def test_json_round_trip_of_real_shapes(name):
    msg = parse(FIXTURES[name])
    text = to_json(msg)
    assert text.isascii()
    assert text.startswith(f"[{msg.size},{msg.header_end},[")
    assert from_json(text) == msg
    assert envelope_from_json(text) == msg.envelope


@pytest.mark.parametrize(
    "msg",
    [
        ParsedMessage(0, 0, Envelope(), BodyPart("text", "plain")),
        ParsedMessage(
            5,
            2,
            Envelope(
                date="",
                subject="\udcff\udc80 surrogates \x00",
                from_=(Address("n", "@route", "m", "h"),),
                sender=(Address(None, None, "s", None),),
                bcc=(Address("", "", "", ""),),
                reply_to=None,
                to=(Address(None, None, "g", None), GROUP_END),
                cc=(),
                message_id="<id>",
            ),
            BodyPart(
                "message",
                "rfc822",
                encoding="",
                lines=0,
                disposition=("attachment", ()),
                language=(),
                md5="m",
                location="l",
                envelope=Envelope(subject="inner"),
                message=BodyPart("text", "plain", params=(("a", ""),), start=2),
                start=0,
                body_start=2,
                end=5,
                size=3,
            ),
        ),
        ParsedMessage(
            1, 1, Envelope(), BodyPart("multipart", "mixed", parts=(BodyPart("a", "b"),))
        ),
    ],
    ids=["minimal", "every-field", "multipart"],
)
def test_json_round_trip_of_odd_shapes(msg):
    assert from_json(to_json(msg)) == msg


def test_json_is_compact():
    text = to_json(parse(PLAIN))
    assert len(text) < 330
    assert '"7bit"' not in text  # defaults are omitted
    assert text.count('"alice"') == 1  # sender and reply-to equal to from are not repeated


def test_a_text_read_again_gives_the_same_frozen_parse_without_decoding_it_again():
    text = to_json(parse(PLAIN))
    first = from_json(text)
    assert from_json("".join(text)) is first  # an equal text read from the store again
    with pytest.raises(AttributeError):
        first.size = 0  # shared by every reader: it cannot be changed
