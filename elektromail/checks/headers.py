"""Header lint: what a real MTA or mail client would refuse or mangle in a message's header
and line structure (RFC 5322, RFC 2045-2047, RFC 6152, RFC 6532). Pure code on the bytes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from elektromail.checks.findings import Finding, error, info, warning
from elektromail.checks.message import Message

MAX_LINE = 998  # octets, without the CRLF (RFC 5322 §2.1.1)
MAX_REPORTED = 20  # findings of one kind; the rest are counted in the last one
MAX_ADDRESS_FIELD = 64 * 1024  # longer address fields are not handed to the stdlib parser
ADDRESS_FIELDS = ("From", "Sender", "Reply-To", "To", "Cc", "Bcc")
# RFC 5322 §3.6's table: the fields that may occur at most once.
SINGLE_FIELDS = (
    "Date",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
)
_EIGHT_BIT_RE = re.compile(rb"[\x80-\xff]")
_BARE_LF_RE = re.compile(rb"(?<!\r)\n")
_BARE_CR_RE = re.compile(rb"\r(?!\n)")
_LINE_RE = re.compile(rb"[^\n]*\n?")


def check(message: Message) -> list[Finding]:
    """Every header lint finding of `message`, in the order of CHECKS."""
    found: list[Finding] = []
    for each in CHECKS:
        found.extend(each(message))
    return found


def required_fields(message: Message) -> Iterator[Finding]:
    """RFC 5322 §3.6: "the origination date field and the originator address field(s)" are
    the only required fields; §3.6.4: every message SHOULD have a Message-ID field."""
    if message.first("Date") is None:
        yield error("headers.no-date", "no Date header (RFC 5322 §3.6.1 requires one)")
    if message.first("From") is None:
        yield error("headers.no-from", "no From header (RFC 5322 §3.6.2 requires one)")
    if message.first("Message-ID") is None:
        yield warning(
            "headers.no-message-id", "no Message-ID header (RFC 5322 §3.6.4: SHOULD have one)"
        )


def single_fields(message: Message) -> Iterator[Finding]:
    """RFC 5322 §3.6: Date, From, Sender, Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To,
    References and Subject occur at most once."""
    for name in SINGLE_FIELDS:
        found = message.get_all(name)
        if len(found) > 1:
            lines = ", ".join(str(f.line) for f in found[:10])
            yield error(
                "headers.duplicate",
                f"{name} occurs {len(found)} times (lines {lines}); RFC 5322 §3.6 allows one",
                header=name,
                line=found[1].line,
            )


def sender_for_many_authors(message: Message) -> Iterator[Finding]:
    """RFC 5322 §3.6.2: with more than one mailbox in From, a Sender field MUST be present."""
    from_ = message.first("From")
    if from_ is None or message.first("Sender") is not None:
        return
    if len(_addresses(from_.text)[0]) > 1:
        yield error(
            "headers.no-sender",
            "From names several mailboxes but there is no Sender (RFC 5322 §3.6.2 requires it)",
            header="From",
            line=from_.line,
        )


def line_ends(message: Message) -> Iterator[Finding]:
    """RFC 5322 §2.1 and §2.3: CR and LF occur only together as CRLF; a bare LF or a bare CR
    is refused by many MTAs (and SMTP itself, RFC 5321 §2.3.8)."""
    kinds = (
        (_BARE_LF_RE, "headers.bare-lf", "LF without CR"),
        (_BARE_CR_RE, "headers.bare-cr", "CR without LF"),
    )
    for pattern, id_, what in kinds:
        matches = pattern.finditer(message.raw)
        first = next(matches, None)
        if first is None:
            continue
        count = 1 + sum(1 for _ in matches)
        yield error(
            id_,
            f"{count} bare {what} line end(s), first on line {message.line_of(first.start())}"
            " (RFC 5322 §2.1: lines end in CRLF)",
            line=message.line_of(first.start()),
        )


def long_lines(message: Message) -> Iterator[Finding]:
    """RFC 5322 §2.1.1: "Each line of characters MUST be no more than 998 characters,
    excluding the CRLF"."""
    reported = 0
    over = 0
    first_line = None
    for number, m in enumerate(_LINE_RE.finditer(message.raw), 1):
        length = len(m.group().rstrip(b"\r\n"))
        if length > MAX_LINE:
            over += 1
            if first_line is None:
                first_line = number
            if reported < MAX_REPORTED:
                reported += 1
                yield error(
                    "headers.line-too-long",
                    f"line {number} has {length} octets; RFC 5322 §2.1.1 allows 998",
                    line=number,
                )
        if not m.group():
            break
    if over > reported:
        yield error(
            "headers.line-too-long",
            f"{over - reported} more lines over 998 octets",
            line=first_line,
        )


def eight_bit(message: Message) -> Iterator[Finding]:
    """RFC 6152 §3 (8BITMIME): 8-bit body data needs BODY=8BITMIME in MAIL FROM, and RFC 2045
    §6.2 a Content-Transfer-Encoding of 8bit or binary; RFC 6532 §3: 8-bit (UTF-8) header
    fields need SMTPUTF8 (RFC 6531), otherwise RFC 2047 encoded-words."""
    transaction = message.transaction
    smtputf8 = transaction is not None and transaction.smtputf8
    for field in message.fields:
        if _EIGHT_BIT_RE.search(field.value) or _EIGHT_BIT_RE.search(field.name.encode()):
            if smtputf8:
                continue
            known = "" if transaction is not None else " (unless it was sent with SMTPUTF8)"
            yield warning(
                "headers.non-ascii",
                f"{field.name} has 8-bit bytes, not RFC 2047 encoded{known}"
                " (RFC 6532 §3, RFC 2047 §1)",
                header=field.name,
                line=field.line,
            )
    for number, part in message.parts():
        if part.parts or part.message is not None:
            continue
        body = message.raw[part.body_start : part.end]
        m = _EIGHT_BIT_RE.search(body)
        if m is None:
            continue
        line = message.line_of(part.body_start + m.start())
        declared = part.encoding in ("8bit", "binary")
        if (
            transaction is not None
            and transaction.body not in ("8BITMIME", "BINARYMIME")
            and not smtputf8
        ):
            yield error(
                "headers.8bit-without-8bitmime",
                f"part {number} has 8-bit bytes but MAIL FROM did not say BODY=8BITMIME"
                " (RFC 6152 §3)",
                part=number,
                line=line,
            )
        elif not declared:
            cte = part.encoding
            yield warning(
                "headers.8bit-undeclared",
                f"part {number} has 8-bit bytes with Content-Transfer-Encoding {cte}, not 8bit"
                " or binary (RFC 2045 §6.2); whether an SMTP transaction said BODY=8BITMIME is"
                " not known for this message (it has no SMTP transcript)"
                if transaction is None
                else f"part {number} has 8-bit bytes with Content-Transfer-Encoding {cte}"
                " (RFC 2045 §6.2)",
                part=number,
                line=line,
            )


def binary_without_binarymime(message: Message) -> Iterator[Finding]:
    """RFC 3030 §3: SMTP carries a binary MIME message (`Content-Transfer-Encoding: binary`,
    RFC 2045 §2.9: any octets, lines of any length) only with BODY=BINARYMIME, which takes
    BDAT; 8BITMIME (RFC 6152) does not cover it. Judged only when the SMTP transaction is
    known: a message put in by IMAP APPEND or the HTTP API may well be binary."""
    transaction = message.transaction
    if transaction is None or transaction.body == "BINARYMIME":
        return
    # "" is a multipart message itself (RFC 2045 §6.4 lets a multipart be binary too)
    binary = [number for number, part in message.parts() if part.encoding == "binary"]
    if not binary:
        return
    said = f"BODY={transaction.body}" if transaction.body else "no BODY="
    names = [number or "(the message)" for number in binary[:MAX_REPORTED]]
    shown = ", ".join(names) + (", ..." if len(binary) > MAX_REPORTED else "")
    where = {"part": binary[0]} if binary[0] else {}
    yield error(
        "headers.binary-without-binarymime",
        f"part{'s' if len(binary) > 1 else ''} {shown} declare{'' if len(binary) > 1 else 's'}"
        f" Content-Transfer-Encoding binary but MAIL FROM said {said}, not BODY=BINARYMIME"
        " (RFC 3030 §3: binary MIME needs BINARYMIME and BDAT)",
        **where,
    )


def bcc_left(message: Message) -> Iterator[Finding]:
    """RFC 5322 §3.6.3: the Bcc field's recipients are not to be disclosed to the others; a
    Bcc header in a delivered copy shows every recipient who got it."""
    for field in message.get_all("Bcc"):
        if field.text:
            yield warning(
                "headers.bcc-present",
                "a Bcc header is left in the delivered message: every recipient sees it"
                " (RFC 5322 §3.6.3)",
                header=field.name,
                line=field.line,
            )


def malformed_addresses(message: Message) -> Iterator[Finding]:
    """RFC 5322 §3.4: From, Sender, Reply-To, To, Cc and Bcc hold address lists of
    `display-name <local@domain>` or `local@domain` (and groups); §3.6.2: Sender is one
    mailbox."""
    for name in ADDRESS_FIELDS:
        for field in message.get_all(name):
            text = field.text
            if not text.strip():
                if name in ("From", "Sender"):
                    yield error(
                        "headers.malformed-address",
                        f"{name} is empty (RFC 5322 §3.6.2)",
                        header=name,
                        line=field.line,
                    )
                continue
            addresses, problem = _addresses(text)
            if problem is None and name == "Sender" and len(addresses) != 1:
                problem = "Sender holds exactly one mailbox (RFC 5322 §3.6.2)"
            if problem is not None:
                yield error(
                    "headers.malformed-address",
                    f"{name}: {problem} in {_shown(text)} (RFC 5322 §3.4)",
                    header=name,
                    line=field.line,
                )


def _addresses(text: str) -> tuple[list[str], str | None]:
    """(the addresses found, the first problem or None), by the stdlib's RFC 5322 parser."""
    if len(text) > MAX_ADDRESS_FIELD:
        return [], f"over {MAX_ADDRESS_FIELD} characters"
    from email.headerregistry import HeaderRegistry

    try:
        header = HeaderRegistry()("To", text.encode("utf-8", "surrogateescape").decode())
    except Exception as e:  # the stdlib parser raises on some junk (IndexError, ...)
        return [], f"not an address list ({type(e).__name__})"
    addresses = [f"{a.username}@{a.domain}" for a in header.addresses]
    for address in header.addresses:
        if not address.domain:
            return addresses, f"address {_shown(address.username)} has no domain"
        if not address.username:
            return addresses, "an address has no local part"
    if header.defects:
        return addresses, str(header.defects[0])
    return addresses, None


def mime_structure(message: Message) -> Iterator[Finding]:
    """RFC 2045 §4: a message with MIME header fields carries MIME-Version: 1.0; RFC 2046
    §5.1.1: the boundary parameter is required for every multipart, and its delimiter line
    must occur in the body."""
    if message.first("Content-Type") is not None and message.first("MIME-Version") is None:
        yield warning(
            "headers.no-mime-version",
            "Content-Type without MIME-Version: 1.0 (RFC 2045 §4)",
            header="Content-Type",
        )
    for number, part in message.parts():
        if part.type != "multipart" or part.parts:
            continue
        boundary = next((v for k, v in part.params if k == "boundary"), None)
        if not boundary:
            yield error(
                "headers.multipart-no-boundary",
                f"multipart/{part.subtype} (part {number or 'the message'}) has no boundary"
                " parameter (RFC 2046 §5.1.1)",
                part=number or "TEXT",
            )
        elif (
            b"--" + boundary.encode("utf-8", "surrogateescape")
            in message.raw[part.body_start : part.end]
        ):
            yield warning(
                "headers.too-deep",
                f"multipart/{part.subtype} (part {number or 'the message'}) is nested too deeply"
                " to be read (IMAP and the web inbox show it as one opaque part)",
                part=number or "TEXT",
            )
        else:
            yield error(
                "headers.multipart-boundary-missing",
                f"multipart/{part.subtype} (part {number or 'the message'}): no delimiter line"
                f" --{_shown(boundary)} in its body (RFC 2046 §5.1.1)",
                part=number or "TEXT",
            )


def header_block_end(message: Message) -> Iterator[Finding]:
    """RFC 5322 §2.1: the header section ends with an empty line before the body; a line in
    the header that is neither a field nor a fold is no header at all (§2.2)."""
    block = message.header_block
    junk = [
        (number, line)
        for number, line in enumerate(re.split(rb"\r\n|\n|\r", block), 1)
        if line and line[:1] not in (b" ", b"\t") and b":" not in line
    ]
    for number, line in junk[:MAX_REPORTED]:
        shown = _shown(line.decode("utf-8", "replace"))
        yield error(
            "headers.not-a-field",
            f"line {number} in the header is not a header field: {shown} (RFC 5322 §2.2)",
            line=number,
        )
    if not message.fields:
        yield error("headers.empty", "the message has no header fields (RFC 5322 §2.2)")
    if message.parsed.header_end == len(message.raw) and not block.endswith((b"\n\n", b"\r\n\r\n")):
        yield info("headers.no-body", "no empty line after the header: the message has no body")


def _shown(text: str, limit: int = 60) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return repr(text if len(text) <= limit else text[:limit] + "...")


CHECKS: tuple[Callable[[Message], Iterator[Finding]], ...] = (
    required_fields,
    single_fields,
    sender_for_many_authors,
    line_ends,
    long_lines,
    eight_bit,
    binary_without_binarymime,
    bcc_left,
    malformed_addresses,
    mime_structure,
    header_block_end,
)
