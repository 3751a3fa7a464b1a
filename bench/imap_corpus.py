"""A mailbox of realistic messages for the one-command IMAP lines of bench/imap.py.

About 4 KB each (2.5 to 5.5 KB), from a pool of SENDERS senders `senderK@...` (so `FROM sender7`
matches about one message in SENDERS and no `sender70`), subjects drawn from a vocabulary (so
`SUBJECT invoice` matches a few per cent), a unique Message-ID each, 60 % \\Seen, 5 % \\Flagged,
"needle" in the body of 2 %, and a mix of plain, alternative and mixed-with-attachment shapes.
The same seed gives the same messages, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

SENDERS = 60
SUBJECT_WORD = "invoice"
BODY_WORD = "needle"

FIRST = "Ada Alan Barbara Carl Dana Edsger Frances Grace Hedy Ivan Joan Ken Linus Margaret".split()
LAST = "Lovelace Turing Liskov Sagan Scott Dijkstra Allen Hopper Lamarr Sutherland Clarke".split()
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "lists.example.edu"]
WORDS = (
    "report meeting budget review draft project release update quarterly invoice schedule "
    "notes question answer team design plan follow-up agenda minutes travel expense summary "
    "proposal contract deadline customer feedback launch roadmap hiring offer interview "
    "server outage incident ticket patch build test deploy migration backup storage network "
    "lunch party birthday holiday weekend photos family garden recipe coffee book film music "
    "the a of to and in for on with at by from about this that next last new old important "
    "please thanks regards hello again soon today tomorrow monday friday week month year"
).split()
FILLER = [w for w in WORDS if w != SUBJECT_WORD]


@dataclass(frozen=True)
class Message:
    raw: bytes
    flags: tuple[str, ...]
    message_id: str


def corpus(n: int, seed: int = 15) -> list[Message]:
    rng = random.Random(seed)
    lines = [" ".join(rng.choices(FILLER, k=11)) for _ in range(4000)]
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    return [_message(rng, lines, i, start + timedelta(minutes=7 * i)) for i in range(n)]


def _message(rng: random.Random, lines: list[str], i: int, date: datetime) -> Message:
    sender = rng.randrange(SENDERS)
    name = f"{FIRST[sender % len(FIRST)]} {LAST[sender % len(LAST)]}"
    address = f"sender{sender}@{DOMAINS[sender % len(DOMAINS)]}"
    message_id = f"<{rng.getrandbits(64):016x}.{i}@{DOMAINS[rng.randrange(len(DOMAINS))]}>"
    subject = " ".join(rng.choices(WORDS, k=rng.randint(3, 7))).capitalize()
    subject = rng.choices(["", "Re: ", "Fwd: "], weights=[75, 20, 5])[0] + subject
    head = (
        f'From: "{name}" <{address}>\r\n'
        f"To: Bench User <user@example.com>\r\n"
        + (f"Cc: team-{rng.randrange(8)}@lists.example.edu\r\n" if rng.random() < 0.3 else "")
        + f"Subject: {subject}\r\n"
        f"Date: {format_datetime(date)}\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    text = _text(rng, lines, rng.randint(2400, 5200), needle=rng.random() < 0.02)
    shape = rng.choices(["plain", "alternative", "mixed"], weights=[70, 20, 10])[0]
    flags = tuple(flag for flag, p in (("\\Seen", 0.6), ("\\Flagged", 0.05)) if rng.random() < p)
    return Message(head + _body(shape, text), flags, message_id)


def _text(rng: random.Random, lines: list[str], size: int, needle: bool) -> bytes:
    """About `size` bytes of lines drawn from the pool (lines of 11 words, ~70 characters)."""
    picked = rng.choices(lines, k=size // 72)
    if needle:
        at = rng.randrange(len(picked))
        picked[at] = picked[at].replace(" ", f" {BODY_WORD} ", 1)
    return ("\r\n".join(picked) + "\r\n").encode()


def _body(shape: str, text: bytes) -> bytes:
    if shape == "plain":
        return b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text
    if shape == "alternative":
        half = text[: len(text) // 2]
        return (
            b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
            b"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + half + b"\r\n"
            b"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>"
            + half.replace(b"\r\n", b"<br>\r\n")
            + b"</p></body></html>\r\n--alt--\r\n"
        )
    return (
        b'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n'
        b"--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text[:1500] + b"\r\n"
        b"--mix\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="report.pdf"\r\n\r\n'
        + b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n" * 20
        + b"--mix--\r\n"
    )


def write_mbox(path: str, messages: list[Message]) -> None:
    """An mbox for imaptest to APPEND from (mboxrd: "From " lines in bodies are quoted)."""
    with open(path, "wb") as out:
        for message in messages:
            out.write(b"From bench@example.com  Mon Jan  5 08:00:00 2026\n")
            for line in message.raw.split(b"\r\n"):
                if line.lstrip(b">").startswith(b"From "):
                    line = b">" + line
                out.write(line + b"\n")
