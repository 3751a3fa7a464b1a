"""Preloaded fixtures (ELEKTROMAIL_PRELOAD_DIR): `.eml` files read at start-up into the store,
and kept as the baseline that a reset returns to.

Layout: `<dir>/<user>/<mailbox path>/<name>.eml`, nested folders giving a hierarchy such as
`Archive/2024`; files right under `<user>/` go to INBOX, a folder named `inbox` in any case is
INBOX, and the suffix may be `.EML`. An optional sidecar `<name>.eml.meta.json` holds
`{"flags": ["\\\\Seen"], "internal_date": "01-Jan-2024 00:00:00 +0000"}`. The order is
stable: directories and files by name, a folder's files before its subfolders. A bad file or
sidecar is reported with its path and skipped; the rest load. Hidden entries (a leading dot)
are ignored."""

from __future__ import annotations

import datetime
import email.utils
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet import threads
from twisted.logger import Logger

from elektromail import mime
from elektromail.dates import parse_given_date_time
from elektromail.flags import check_flags
from elektromail.lineends import crlf
from elektromail.names import DELIMITER, INBOX, check_mailbox_name, check_user_name
from elektromail.store import BaselineMessage, InvalidInput
from elektromail.store.rows import Render, prepare

if TYPE_CHECKING:
    from elektromail.postoffice import PostOffice

log = Logger()

MESSAGE_SUFFIX = ".eml"
SIDECAR_SUFFIX = ".eml.meta.json"
SIDECAR_KEYS = frozenset({"flags", "internal_date"})


class PreloadError(Exception):
    """The fixture directory itself is unusable (missing, not a directory): start-up stops."""


@dataclass
class Fixtures:
    """What a fixture directory holds, ready for `PostOffice.preload`."""

    # user (as its directory names it) -> mailbox names, parents before children
    folders: dict[str, list[str]] = field(default_factory=dict)
    messages: list[BaselineMessage] = field(default_factory=list)
    # (path, reason) of each file, sidecar or directory skipped; reported by the caller, as
    # `read` may run off the reactor thread
    problems: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0  # files that are neither messages nor sidecars (README, .txt, ...)


class BadFixture(Exception):
    """Why one file cannot be loaded; `path` is the sidecar's when the sidecar is at fault."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


# --- reading ---------------------------------------------------------------------------------


def read(directory: str, render: Render | None = None, max_size: int | None = None) -> Fixtures:
    """Read, convert and parse every fixture under `directory` (blocking file I/O: run it in
    a thread). PreloadError when `directory` is not a readable directory."""
    if not os.path.isdir(directory):
        raise PreloadError(f"{directory}: not a directory")
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        raise PreloadError(f"{directory}: {e.strerror or e}") from None
    fixtures = Fixtures()
    now = time.time()
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            if _is_message(entry.name) or _is_sidecar(entry.name):
                fixtures.problems.append((entry.path, "not inside a user directory"))
            continue
        try:
            user = check_user_name(entry.name)
        except InvalidInput as e:
            fixtures.problems.append((entry.path, str(e)))
            continue
        _read_user(fixtures, entry.path, user, render, max_size, now)
    return fixtures


def _read_user(fixtures: Fixtures, root: str, user: str, render, max_size, now: float) -> None:
    folders = fixtures.folders.setdefault(user, [])
    for dirpath, dirnames, filenames in os.walk(root, onerror=_walk_error(fixtures)):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        parts = os.path.relpath(dirpath, root).split(os.sep)
        try:
            mailbox = INBOX if parts == ["."] else check_mailbox_name(DELIMITER.join(parts))
        except InvalidInput as e:
            fixtures.problems.append((dirpath, str(e)))
            dirnames[:] = []  # nothing below a folder that cannot be a mailbox loads either
            continue
        _add_folder(folders, mailbox)
        names = {name for name in filenames if not name.startswith(".")}
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            if _is_sidecar(name):
                if name[: -len(".meta.json")] not in names:
                    fixtures.problems.append((path, "sidecar without its .eml file"))
                continue
            if not _is_message(name):
                fixtures.ignored += 1
                continue
            has_sidecar = name + ".meta.json" in names
            try:
                message = _read_message(path, has_sidecar, user, mailbox, render, max_size, now)
            except BadFixture as e:
                fixtures.problems.append((e.path or path, e.reason))
                continue
            fixtures.messages.append(message)


def _is_message(name: str) -> bool:
    return name.lower().endswith(MESSAGE_SUFFIX)


def _is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIX)


def _walk_error(fixtures: Fixtures) -> Callable[[OSError], None]:
    def report(error: OSError) -> None:
        fixtures.problems.append((error.filename or "?", error.strerror or str(error)))

    return report


def _add_folder(folders: list[str], mailbox: str) -> None:
    parts = mailbox.split(DELIMITER)
    for i in range(1, len(parts) + 1):
        name = DELIMITER.join(parts[:i])
        if name not in folders:
            folders.append(name)


def _read_message(
    path: str,
    has_sidecar: bool,
    user: str,
    mailbox: str,
    render: Render | None,
    max_size: int | None,
    now: float,
) -> BaselineMessage:
    raw = crlf(_read_bytes(path))
    if not raw:
        raise BadFixture("empty file")
    if max_size is not None and len(raw) > max_size:
        raise BadFixture(f"{len(raw)} bytes, over the message size limit of {max_size}")
    meta = read_sidecar(path + ".meta.json") if has_sidecar else {}
    parsed = mime.parse(raw)
    when = meta.get("internal_date") or date_of(parsed) or (now, 0)
    message = prepare(
        raw,
        render,
        parsed=parsed,
        flags=meta.get("flags", ()),
        internal_date=when[0],
        tz_minutes=when[1],
    )
    return BaselineMessage(user, mailbox, message)


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BadFixture(e.strerror or str(e)) from None


def read_sidecar(path: str) -> dict[str, Any]:
    """`flags` (normalized) and `internal_date` ((epoch seconds, offset minutes)) of a sidecar;
    BadFixture naming what is wrong. Other keys are ignored, as the original server did."""
    skipped = "its message is skipped"
    try:
        data = json.loads(_read_bytes(path))
    except BadFixture as e:
        raise BadFixture(f"{e.reason}; {skipped}", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadFixture(f"not JSON ({e}); {skipped}", path) from None
    if not isinstance(data, dict):
        raise BadFixture(f"not a JSON object; {skipped}", path)
    meta: dict[str, Any] = {}
    try:
        flags = data.get("flags", [])
        if not isinstance(flags, list):
            raise InvalidInput("flags must be a list of strings")
        meta["flags"] = check_flags(flags)
        if data.get("internal_date") is not None:
            meta["internal_date"] = parse_date_time(data["internal_date"])
    except ValueError as e:  # InvalidInput is one
        raise BadFixture(f"{e}; {skipped}", path) from None
    return meta


# --- dates -----------------------------------------------------------------------------------


def parse_date_time(value: object) -> tuple[float, int]:
    """A sidecar's internal_date as (epoch seconds, offset minutes): IMAP's
    "01-Jan-2024 00:00:00 +0000", or ISO 8601 ("2024-01-01T00:00:00Z"; no offset means UTC).
    ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"internal_date {value!r} is not a string")
    try:
        return parse_given_date_time(value)
    except ValueError:
        raise ValueError(
            f'internal_date {value!r} is not like "01-Jan-2024 00:00:00 +0000"'
        ) from None


def _epoch_and_offset(moment: datetime.datetime) -> tuple[float, int]:
    offset = moment.utcoffset() or datetime.timedelta(0)
    return moment.timestamp(), int(offset.total_seconds() // 60)


def date_of(parsed: mime.ParsedMessage) -> tuple[float, int] | None:
    """The message's Date: header as (epoch seconds, offset minutes), if it parses: a fixture
    without a sidecar date gets the date it was written with, the same at every start."""
    text = parsed.envelope.date
    if not text:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
        if moment.tzinfo is None:  # "-0000": no zone information; take it as UTC
            moment = moment.replace(tzinfo=datetime.UTC)
        return _epoch_and_offset(moment)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# --- loading ---------------------------------------------------------------------------------


async def load(postoffice: PostOffice, directory: str, reactor=None) -> int:
    """Read the fixtures under `directory` (in a thread), report what was skipped, and store
    them as part of the baseline; returns the number of messages stored."""
    if reactor is None:
        from twisted.internet import reactor
    fixtures = await threads.deferToThreadPool(
        reactor,
        reactor.getThreadPool(),
        read,
        directory,
        postoffice.render,
        postoffice.settings.max_message_size,
    )
    report(fixtures)
    added = await postoffice.preload(fixtures.folders, fixtures.messages)
    log.info(
        "preloaded {count} messages for {users} users from {directory}",
        count=added,
        users=len(fixtures.folders),
        directory=directory,
    )
    return added


def report(fixtures: Fixtures) -> None:
    for path, reason in fixtures.problems:
        log.warn("preload: skipped {path}: {reason}", path=path, reason=reason)
    if fixtures.ignored:
        log.info(
            "preload: ignored {count} files that are neither .eml nor .eml.meta.json",
            count=fixtures.ignored,
        )
