"""Seed corpora for the fuzz targets, taken from the test suite's own messages and commands.

The string and bytes constants of tests/**/*.py are sorted by what they look like: messages
(a header line, then more lines) seed `mime` (and the DATA part of `smtp`), tagged IMAP commands
seed `imap`, SMTP command lines seed `smtp`. Nothing here is committed: run.py writes the seeds
to fuzz/seeds/<target>/ (ignored by git) on each run.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*[ \t]*:", re.M)
_IMAP_COMMAND = re.compile(rb"^[A-Za-z0-9.]{1,12} (?:UID )?[A-Za-z]{2,}(?: |\r?\n|$)")
_SMTP_COMMAND = re.compile(
    rb"^(?:EHLO|HELO|MAIL|RCPT|DATA|RSET|NOOP|QUIT|VRFY|AUTH|STARTTLS|HELP)\b", re.I
)

# Shapes the suite has few of, written out.
_EXTRA_MIME = [
    b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative;"
    b" boundary=b\r\n\r\n--b\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>\r\n--b--"
    b"\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--a--\r\n",
    b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\n1\r\n--d--",
    b'From: "A, B" <a@b>, (c) g: x@y, <@r:z@w>;\r\nSubject: =?utf-8?B?w6k=?= =?ISO-8859-1?Q?=E9?='
    b"\r\nContent-Type: text/plain; name*0*=utf-8''%C3; name*1=x\r\n\r\n\x00\xff",
]
_EXTRA_IMAP = [
    b"a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.512> BINARY[1.2] UID)\r\n",
    b'a2 SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR NOT (SEEN UID 1:*) HEADER "X" {3+}\r\nabc\r\n',
    b'a3 APPEND INBOX (\\Seen) "17-Jul-1996 02:44:25 -0700" ~{5+}\r\nab\x00cd\r\n',
    b'a4 LIST "" "&AOk-/*"\r\na5 STORE $ +FLAGS.SILENT (\\Deleted)\r\na6 UID COPY 1,3:* x\r\n',
]
_EXTRA_SMTP = [
    b"EHLO x\r\nMAIL FROM:<a@b.c> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=a+2Bb\r\n"
    b'RCPT TO:<"q s"@[1.2.3.4]> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x+40y\r\nDATA\r\n'
    b"Subject: s\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
]


def _constants(path: Path) -> Iterator[bytes]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            value = node.value
            if isinstance(value, str):
                value = value.encode("utf-8", "surrogateescape")
            if len(value) >= 8:
                yield value


def _as_message(value: bytes) -> bytes | None:
    if len(value) < 20 or b"\n" not in value or not _HEADER_LINE.search(value):
        return None
    return value if b"\r\n" in value else value.replace(b"\n", b"\r\n")


def _as_line(value: bytes, pattern: re.Pattern[bytes]) -> bytes | None:
    if not pattern.match(value):
        return None
    return value if value.endswith(b"\n") else value + b"\r\n"


def collect(root: Path = ROOT) -> dict[str, set[bytes]]:
    """The seeds of each target: {"mime": {...}, "imap": {...}, "smtp": {...}}."""
    seeds: dict[str, set[bytes]] = {
        "mime": set(_EXTRA_MIME),
        "delivery": set(_EXTRA_MIME),
        "imap": set(_EXTRA_IMAP),
        "smtp": set(_EXTRA_SMTP),
    }
    for path in sorted((root / "tests").rglob("*.py")):
        for value in _constants(path):
            if (message := _as_message(value)) is not None:
                seeds["mime"].add(message)
                seeds["delivery"].add(message)
            if (line := _as_line(value, _IMAP_COMMAND)) is not None:
                seeds["imap"].add(line)
            if (line := _as_line(value, _SMTP_COMMAND)) is not None:
                seeds["smtp"].add(line)
    # A whole SMTP session around each of a few messages exercises the DATA reader.
    for message in sorted(seeds["mime"], key=len)[:50]:
        stuffed = re.sub(rb"(?m)^\.", b"..", message)
        seeds["smtp"].add(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + stuffed + b"\r\n.\r\n")
    return seeds


def write(seeds: Iterable[bytes], directory: Path, max_len: int) -> int:
    """Write each seed (cut to max_len) as a file named by its hash; returns how many."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for seed in seeds:
        seed = seed[:max_len]
        (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        count += 1
    return count
