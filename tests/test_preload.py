"""Preloaded fixtures: the directory layout, sidecars, line ends, dates, what is skipped (and
logged with its path) while the rest loads; then a server started with them."""

from __future__ import annotations

import imaplib
import json
import os
from pathlib import Path

import pytest
from twisted.logger import formatEvent, globalLogPublisher

from elektromail import preload
from elektromail.config import resolve
from elektromail.service import StartupError
from elektromail.testing import MailServer

NOW = 1_800_000_000.0


def write(root: Path, relative: str, data: bytes | str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def sidecar(root: Path, relative: str, **meta) -> Path:
    return write(root, relative + ".meta.json", json.dumps(meta))


def read(root: Path, **kw) -> preload.Fixtures:
    return preload.read(str(root), **kw)


def where(fixtures: preload.Fixtures) -> list[tuple[str, str, bytes]]:
    return [(m.user, m.mailbox, m.message.raw) for m in fixtures.messages]


def prepared(fixtures) -> list:
    """The messages as they will be stored, in order."""
    return [m.message for m in fixtures.messages]


def problems(fixtures: preload.Fixtures, root: Path) -> list[tuple[str, str]]:
    return [(os.path.relpath(path, root), reason) for path, reason in fixtures.problems]


# --- layout ----------------------------------------------------------------------------------


def test_nested_folders_give_a_hierarchy_with_parents_before_children(tmp_path):
    write(tmp_path, "alice/Archive/2024/Q1/a.eml", b"Subject: a\r\n\r\n")
    write(tmp_path, "alice/Work/b.eml", b"Subject: b\r\n\r\n")
    fixtures = read(tmp_path)
    assert fixtures.folders == {
        "alice": ["INBOX", "Archive", "Archive/2024", "Archive/2024/Q1", "Work"]
    }
    assert [(m.user, m.mailbox) for m in fixtures.messages] == [
        ("alice", "Archive/2024/Q1"),
        ("alice", "Work"),
    ]
    assert fixtures.problems == []


def test_files_under_the_user_directory_and_an_inbox_folder_in_any_case_go_to_inbox(tmp_path):
    write(tmp_path, "bob/top.eml", b"Subject: top\r\n\r\n")
    write(tmp_path, "bob/inbox/low.eml", b"Subject: low\r\n\r\n")
    write(tmp_path, "bob/Inbox/Kid/kid.eml", b"Subject: kid\r\n\r\n")
    fixtures = read(tmp_path)
    assert [(m.mailbox, m.message.raw) for m in fixtures.messages] == [
        ("INBOX", b"Subject: top\r\n\r\n"),
        ("INBOX/Kid", b"Subject: kid\r\n\r\n"),
        ("INBOX", b"Subject: low\r\n\r\n"),
    ]
    assert fixtures.folders == {"bob": ["INBOX", "INBOX/Kid"]}


def test_the_order_is_stable_users_folders_and_files_by_name_files_before_subfolders(tmp_path):
    for relative in ("zed/INBOX/1.eml", "amy/INBOX/b.eml", "amy/INBOX/a.eml", "amy/A/x.eml"):
        write(tmp_path, relative, f"Subject: {relative}\r\n\r\n")
    write(tmp_path, "amy/a0.eml", b"Subject: top\r\n\r\n")
    order = [m.message.raw.split(b"\r\n")[0].decode() for m in read(tmp_path).messages]
    assert order == [
        "Subject: top",
        "Subject: amy/A/x.eml",
        "Subject: amy/INBOX/a.eml",
        "Subject: amy/INBOX/b.eml",
        "Subject: zed/INBOX/1.eml",
    ]
    assert order == [m.message.raw.split(b"\r\n")[0].decode() for m in read(tmp_path).messages]


def test_an_empty_folder_and_an_empty_user_directory_still_make_mailboxes_and_users(tmp_path):
    (tmp_path / "carol" / "Empty" / "Inner").mkdir(parents=True)
    (tmp_path / "dan").mkdir()
    fixtures = read(tmp_path)
    assert fixtures.folders == {
        "carol": ["INBOX", "Empty", "Empty/Inner"],
        "dan": ["INBOX"],
    }
    assert fixtures.messages == []


def test_hidden_entries_are_ignored_and_other_files_only_counted(tmp_path):
    write(tmp_path, ".git/config", "x")
    write(tmp_path, "amy/.DS_Store", "x")
    write(tmp_path, "amy/.hidden/a.eml", b"Subject: no\r\n\r\n")
    write(tmp_path, "amy/INBOX/.swap.eml", b"Subject: no\r\n\r\n")
    write(tmp_path, "amy/INBOX/README.txt", "notes")
    write(tmp_path, "amy/INBOX/ok.eml", b"Subject: ok\r\n\r\n")
    fixtures = read(tmp_path)
    assert where(fixtures) == [("amy", "INBOX", b"Subject: ok\r\n\r\n")]
    assert fixtures.problems == []
    assert fixtures.ignored == 1  # README.txt


def test_an_upper_case_suffix_loads_with_its_sidecar(tmp_path):
    write(tmp_path, "amy/INBOX/OUTLOOK.EML", b"Subject: shouting\r\n\r\n")
    sidecar(tmp_path, "amy/INBOX/OUTLOOK.EML", flags=["\\Seen"])
    [message] = prepared(read(tmp_path))
    assert message.flags == ("\\Seen",)


# --- line ends -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (b"Subject: a\n\nbody\n", b"Subject: a\r\n\r\nbody\r\n"),
        (b"Subject: a\r\n\r\nbody\r\n", b"Subject: a\r\n\r\nbody\r\n"),
        (b"Subject: a\r\n\nmixed\n", b"Subject: a\r\n\r\nmixed\r\n"),
        (b"Subject: a\n\nno end", b"Subject: a\r\n\r\nno end"),
        (b"Subject: a\r\n\r\nlone\rCR\n", b"Subject: a\r\n\r\nlone\rCR\r\n"),
    ],
    ids=["lf", "crlf", "mixed", "no-final-newline", "lone-cr-kept"],
)
def test_bare_lf_is_stored_as_crlf(tmp_path, given, stored):
    write(tmp_path, "amy/INBOX/m.eml", given)
    [message] = prepared(read(tmp_path))
    assert message.raw == stored
    assert json.loads(message.structure)  # parsed from the converted bytes


# --- sidecars and dates ----------------------------------------------------------------------


def test_a_sidecar_sets_flags_and_internal_date(tmp_path):
    write(
        tmp_path, "amy/INBOX/m.eml", b"Subject: m\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\n"
    )
    sidecar(
        tmp_path,
        "amy/INBOX/m.eml",
        flags=["\\seen", "$Label", "\\Flagged"],
        internal_date="01-Jan-2024 00:00:00 -0130",
        comment="unknown keys are ignored",
    )
    [message] = prepared(read(tmp_path))
    assert message.flags == ("\\Seen", "$Label", "\\Flagged")
    assert (message.internal_date, message.tz_minutes) == (1704072600.0, -90)


def test_without_a_sidecar_date_the_date_header_is_the_internal_date(tmp_path):
    write(tmp_path, "amy/INBOX/m.eml", b"Date: Tue, 2 Jan 2024 10:00:00 +0200\r\n\r\n")
    write(tmp_path, "amy/INBOX/n.eml", b"Subject: no date\r\n\r\n")
    write(tmp_path, "amy/INBOX/o.eml", b"Date: yesterday-ish\r\n\r\n")
    dated, undated, unparsable = prepared(read(tmp_path))
    assert (dated.internal_date, dated.tz_minutes, dated.flags) == (1704182400.0, 120, ())
    for message in (undated, unparsable):  # when it was loaded, fixed from then on
        assert message.tz_minutes == 0
        assert abs(message.internal_date - dated.internal_date) > 1e6


def test_a_sidecar_without_a_date_keeps_the_date_header(tmp_path):
    write(tmp_path, "amy/INBOX/m.eml", b"Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\n")
    sidecar(tmp_path, "amy/INBOX/m.eml", flags=["\\Answered"])
    [message] = prepared(read(tmp_path))
    assert (message.internal_date, message.flags) == (1704189600.0, ("\\Answered",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01-Jan-2024 00:00:00 +0000", (1704067200.0, 0)),
        ("1-Jan-2024 00:00:00 +0000", (1704067200.0, 0)),
        (" 1-jan-2024 00:00:00 +0000", (1704067200.0, 0)),
        ("01-Jan-2024 02:00:00 +0200", (1704067200.0, 120)),
        ("31-Dec-2023 23:00:00 -0100", (1704067200.0, -60)),
        ("31-Dec-2023 23:59:60 +0000", (1704067199.0, 0)),
        ("2024-01-01T00:00:00Z", (1704067200.0, 0)),
        ("2024-01-01T01:00:00+01:00", (1704067200.0, 60)),
        ("2024-01-01 00:00:00", (1704067200.0, 0)),
    ],
    ids=[
        "imap",
        "one-digit-day",
        "padded",
        "east",
        "west",
        "leap-second",
        "iso-z",
        "iso-offset",
        "iso-naive",
    ],
)
def test_parse_date_time_reads_imap_and_iso_dates(text, expected):
    assert preload.parse_date_time(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "01-Foo-2024 00:00:00 +0000",
        "32-Jan-2024 00:00:00 +0000",
        "01-Jan-2024 00:00:00 +2400",
        "01-Jan-2024 00:00:00",
        "tomorrow",
        1704067200,
        None,
    ],
    ids=["empty", "month", "day", "zone", "no-zone", "words", "number", "null"],
)
def test_parse_date_time_refuses_anything_else(value):
    with pytest.raises(ValueError, match="internal_date"):
        preload.parse_date_time(value)


# --- what is skipped -------------------------------------------------------------------------

BAD_SIDECARS = [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"flags": "\\\\Seen"}', "flags must be a list"),
    ('{"flags": ["two words"]}', "invalid flag"),
    ('{"flags": ["\\\\Recent"]}', "invalid flag"),
    ('{"flags": [7]}', "invalid flag"),
    ('{"internal_date": "yesterday"}', "internal_date"),
    ('{"internal_date": 1704067200}', "internal_date"),
    (b"\xff\xfe", "not JSON"),
]


@pytest.mark.parametrize(
    ("text", "reason"), BAD_SIDECARS, ids=[r[1] + str(i) for i, r in enumerate(BAD_SIDECARS)]
)
def test_a_bad_sidecar_skips_its_message_naming_the_sidecar_and_the_rest_loads(
    tmp_path, text, reason
):
    write(tmp_path, "amy/INBOX/bad.eml", b"Subject: bad\r\n\r\n")
    write(tmp_path, "amy/INBOX/bad.eml.meta.json", text)
    write(tmp_path, "amy/INBOX/good.eml", b"Subject: good\r\n\r\n")
    fixtures = read(tmp_path)
    assert where(fixtures) == [("amy", "INBOX", b"Subject: good\r\n\r\n")]
    [(path, why)] = problems(fixtures, tmp_path)
    assert path == "amy/INBOX/bad.eml.meta.json"
    assert reason in why and "its message is skipped" in why


def test_bad_files_and_directories_are_skipped_with_their_paths_and_the_rest_loads(tmp_path):
    write(tmp_path, "stray.eml", b"Subject: no user\r\n\r\n")
    write(tmp_path, "bad user/INBOX/a.eml", b"Subject: a\r\n\r\n")
    write(tmp_path, "amy/~home/a.eml", b"Subject: a\r\n\r\n")
    write(tmp_path, "amy/~home/below/b.eml", b"Subject: b\r\n\r\n")
    write(tmp_path, "amy/INBOX/empty.eml", b"")
    write(tmp_path, "amy/INBOX/huge.eml", b"Subject: huge\r\n\r\n" + b"x" * 100)
    write(tmp_path, "amy/INBOX/orphan.eml.meta.json", "{}")
    write(tmp_path, "amy/INBOX/ok.eml", b"Subject: ok\r\n\r\n")
    fixtures = read(tmp_path, max_size=64)
    assert where(fixtures) == [("amy", "INBOX", b"Subject: ok\r\n\r\n")]
    assert fixtures.folders == {"amy": ["INBOX"]}
    found = dict(problems(fixtures, tmp_path))
    assert sorted(found) == [
        "amy/INBOX/empty.eml",
        "amy/INBOX/huge.eml",
        "amy/INBOX/orphan.eml.meta.json",
        "amy/~home",
        "bad user",
        "stray.eml",
    ]
    assert found["amy/INBOX/empty.eml"] == "empty file"
    assert "over the message size limit of 64" in found["amy/INBOX/huge.eml"]
    assert found["amy/INBOX/orphan.eml.meta.json"] == "sidecar without its .eml file"
    assert "begins with '~'" in found["amy/~home"]
    assert "invalid user name" in found["bad user"]
    assert found["stray.eml"] == "not inside a user directory"


def test_a_missing_directory_is_a_preload_error(tmp_path):
    with pytest.raises(preload.PreloadError, match="not a directory"):
        read(tmp_path / "nope")
    write(tmp_path, "file", "x")
    with pytest.raises(preload.PreloadError, match="not a directory"):
        read(tmp_path / "file")


# --- a server with fixtures ------------------------------------------------------------------


@pytest.fixture
def logged():
    """Formatted log lines the server writes while the test runs."""
    lines: list[str] = []

    def observe(event):
        lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    yield lines
    globalLogPublisher.removeObserver(observe)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "fixtures"
    write(
        root,
        "Alice/INBOX/welcome.eml",
        b"Subject: welcome\nDate: Mon, 1 Jan 2024 12:00:00 +0000\n\nhi\n",
    )
    write(root, "Alice/Archive/2024/old.eml", b"Subject: old\n\nold\n")
    sidecar(
        root,
        "Alice/Archive/2024/old.eml",
        flags=["\\Seen", "$Done"],
        internal_date="05-Feb-2024 06:07:08 +0100",
    )
    write(root, "newbie/INBOX/n.eml", b"Subject: for newbie\n\nn\n")
    write(root, "newbie/INBOX/broken.eml", b"Subject: broken\n\n")
    write(root, "newbie/INBOX/broken.eml.meta.json", "{oops")
    return root


def test_a_server_loads_fixtures_at_start_up_into_configured_and_new_users(tree, logged):
    with MailServer(users="user:pass,alice:wonder", preload_dir=str(tree), http_port=None) as mail:
        listed = mail.call(mail.server.store.list_messages)
        assert [(m.user, m.mailbox, m.uid) for m in listed] == [
            ("alice", "Archive/2024", 1),  # the directory "Alice" is the configured alice
            ("alice", "INBOX", 1),
            ("newbie", "INBOX", 1),
        ]
        newbie = mail.call(mail.server.store.get_user, "newbie")
        assert (newbie.password, newbie.seeded) == (None, False)
        client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
        client.login("alice", "wonder")
        _, listing = client.list()
        names = sorted(line.decode().rsplit(" ", 1)[1].strip('"') for line in listing)
        assert names == ["Archive", "Archive/2024", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
        _, subscribed = client.lsub()
        names = {line.decode().rsplit(" ", 1)[1].strip('"') for line in subscribed}
        assert {"Archive", "Archive/2024"} <= names
        client.select("Archive/2024")
        _, data = client.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert (
            data[0][0]
            == b'1 (FLAGS (\\Seen \\Recent $Done) INTERNALDATE "05-Feb-2024 06:07:08 +0100"'
            b" BODY[] {21}"
        )
        assert data[0][1] == b"Subject: old\r\n\r\nold\r\n"
        client.select("INBOX")
        _, data = client.fetch("1", "(INTERNALDATE)")
        assert data == [b'1 (INTERNALDATE "01-Jan-2024 12:00:00 +0000")']
        client.logout()
    skipped = [line for line in logged if "skipped" in line]
    assert len(skipped) == 1
    assert str(tree / "newbie/INBOX/broken.eml.meta.json") in skipped[0]
    assert any("preloaded 3 messages for 2 users" in line for line in logged)


def test_a_fixture_user_can_log_in_when_auth_is_disabled(tree):
    with MailServer(
        users="user:pass", preload_dir=str(tree), auth_disabled=True, http_port=None
    ) as mail:
        client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
        client.login("newbie", "anything")
        assert client.select("INBOX") == ("OK", [b"1"])
        client.logout()


def test_a_missing_preload_directory_stops_start_up_naming_the_setting(tmp_path):
    server = MailServer(preload_dir=str(tmp_path / "missing"), http_port=None)
    with pytest.raises(StartupError, match=r"PRELOAD_DIR.*not a directory"):
        server.start()
    server.stop()


def test_fixtures_added_between_restarts_of_a_database_file_load_once(tmp_path, tree):
    db = str(tmp_path / "mail.db")
    settings = {"users": "alice:wonder", "preload_dir": str(tree), "db": db, "http_port": None}
    with MailServer(**settings) as mail:
        assert len(mail.call(mail.server.store.list_messages)) == 3
    write(tree, "Alice/INBOX/later.eml", b"Subject: later\n\n")
    with MailServer(**settings) as mail:
        listed = mail.call(mail.server.store.list_messages)
        assert [(m.user, m.mailbox, m.uid) for m in listed] == [
            ("alice", "Archive/2024", 1),
            ("alice", "INBOX", 1),
            ("newbie", "INBOX", 1),
            ("alice", "INBOX", 2),
        ]


def test_preload_dir_is_no_longer_reported_as_not_implemented(tmp_path):
    settings = resolve({"preload-dir": str(tmp_path)}, environ={})
    assert settings.preload_dir == str(tmp_path)
    assert "--preload-dir" not in settings.not_implemented


def test_fixture_folders_follow_the_one_mailbox_name_rule(tmp_path):
    """elektromail.names' rule, as IMAP CREATE and POST /inject apply it: a folder whose name
    no mailbox can have (a leading `~`, modified UTF-7 instead of UTF-8) is skipped with the
    reason, and nothing below it loads; a space or a UTF-8 name is a mailbox."""
    write(tmp_path, "amy/~home/a.eml", b"Subject: a\r\n\r\n")
    write(tmp_path, "amy/Entw&APw-rfe/a.eml", b"Subject: a\r\n\r\n")
    write(tmp_path, "amy/ /a.eml", b"Subject: space\r\n\r\n")
    write(tmp_path, "amy/Entwürfe/b.eml", b"Subject: b\r\n\r\n")
    fixtures = read(tmp_path)
    assert fixtures.folders == {"amy": ["INBOX", " ", "Entwürfe"]}
    found = dict(problems(fixtures, tmp_path))
    assert sorted(found) == ["amy/Entw&APw-rfe", "amy/~home"]
    assert "begins with '~'" in found["amy/~home"]
    assert "UTF-8 text: 'Entwürfe'" in found["amy/Entw&APw-rfe"]
