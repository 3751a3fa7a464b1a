"""A parsed message as compact JSON for the store, and back: parse once, read many times.

from_json(to_json(m)) == m; envelope_from_json reads only the envelope, for FETCH ENVELOPE.
"""

from __future__ import annotations

import json
from functools import lru_cache

from elektromail.caches import emptied_on_release
from elektromail.mime.model import Address, BodyPart, Envelope, ParsedMessage

# Compact JSON: positional lists, trailing defaults trimmed, other defaults as null.
# Address: [name, mailbox, host] (+ adl when there is one).
# Envelope: [date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id];
# sender and reply_to are 1 when equal to from (the common case).
# BodyPart: [type, subtype, start, body_start, end, size, lines, params, encoding, parts,
# envelope, message, id, description, disposition, language, md5, location]; params are
# flattened to [name, value, ...]. ParsedMessage: [size, header_end, envelope, body].


def to_json(msg: ParsedMessage) -> str:
    """Serialise for the store; from_json(to_json(m)) == m, surrogate escapes included."""
    data = [msg.size, msg.header_end, _envelope_list(msg.envelope), _part_list(msg.body)]
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"))


# FETCH reads the structure of the same few messages again and again (a client paging through
# a mailbox, imaptest's FETCH and FETCH2): the parse of a text is kept for a while. The model is
# frozen, so one object serves every reader; 512 parses are some 2 MB.
@lru_cache(maxsize=512)
def from_json(text: str) -> ParsedMessage:
    size, header_end, envelope, body = json.loads(text)
    return ParsedMessage(size, header_end, _envelope_from(envelope), _part_from(body))


emptied_on_release(from_json.cache_clear)


def envelope_from_json(text: str) -> Envelope:
    """Only the envelope of a to_json() text: FETCH ENVELOPE skips building the part tree."""
    return _envelope_from(json.loads(text)[2])


def _trim(items: list) -> list:
    while items and items[-1] is None:
        items.pop()
    return items


def _address_list(addresses: tuple[Address, ...] | None, from_: object = None) -> object:
    if addresses is None:
        return None
    if from_ is not None and addresses == from_:
        return 1
    return [[a.name, a.mailbox, a.host] + ([] if a.adl is None else [a.adl]) for a in addresses]


def _addresses_from(data: object, from_: tuple[Address, ...] | None) -> tuple[Address, ...] | None:
    if data is None or data == 1:
        return None if data is None else from_
    return tuple(Address(a[0], a[3] if len(a) > 3 else None, a[1], a[2]) for a in data)


def _envelope_list(env: Envelope) -> list:
    sender, reply_to = (_address_list(a, env.from_) for a in (env.sender, env.reply_to))
    to, cc, bcc = (_address_list(a) for a in (env.to, env.cc, env.bcc))
    tail = [env.in_reply_to, env.message_id]
    return _trim(
        [env.date, env.subject, _address_list(env.from_), sender, reply_to, to, cc, bcc, *tail]
    )


def _envelope_from(data: list) -> Envelope:
    data = data + [None] * (10 - len(data))
    from_ = _addresses_from(data[2], None)
    sender, reply_to = (_addresses_from(x, from_) for x in data[3:5])
    to, cc, bcc = (_addresses_from(x, None) for x in data[5:8])
    return Envelope(data[0], data[1], from_, sender, reply_to, to, cc, bcc, data[8], data[9])


def _flat(params: tuple[tuple[str, str], ...]) -> list[str] | None:
    return [item for pair in params for item in pair] or None


def _pairs(flat: list[str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(zip(flat[::2], flat[1::2], strict=True)) if flat else ()


def _part_list(p: BodyPart) -> list:
    disposition = None if p.disposition is None else [p.disposition[0], _flat(p.disposition[1])]
    encoding = None if p.encoding == "7bit" else p.encoding
    parts = [_part_list(c) for c in p.parts] or None
    envelope = None if p.envelope is None else _envelope_list(p.envelope)
    message = None if p.message is None else _part_list(p.message)
    language = None if p.language is None else list(p.language)
    head = [p.type, p.subtype, p.start, p.body_start, p.end, p.size, p.lines, _flat(p.params)]
    tail = [p.id, p.description, disposition, language, p.md5, p.location]
    return _trim([*head, encoding, parts, envelope, message, *tail])


def _part_from(data: list) -> BodyPart:
    ctype, subtype, start, body_start, end, size, lines, params, encoding, parts, *rest = data + [
        None
    ] * (18 - len(data))
    envelope, message, id_, description, disposition, language, md5, location = rest
    return BodyPart(
        ctype,
        subtype,
        _pairs(params),
        id_,
        description,
        "7bit" if encoding is None else encoding,
        size,
        lines,
        md5,
        None if disposition is None else (disposition[0], _pairs(disposition[1])),
        None if language is None else tuple(language),
        location,
        start,
        body_start,
        end,
        tuple(_part_from(c) for c in parts) if parts else (),
        None if envelope is None else _envelope_from(envelope),
        None if message is None else _part_from(message),
    )
