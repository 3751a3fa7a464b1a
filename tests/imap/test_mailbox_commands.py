"""CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS and NAMESPACE over real sockets
(RFC 9051 §6.3, RFC 6154 CREATE-SPECIAL-USE, RFC 8438 STATUS=SIZE), in both dialects."""

from __future__ import annotations

import re
import sqlite3

import pytest
from imapclient import IMAPClient

from elektromail.testing import MailServer
from tests.imap.mailbox_wire import Wire, deliver, list_lines, message

DEFAULT = [b"INBOX", b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash"]


@pytest.fixture
def wire(mail):
    connection = Wire(mail)
    yield connection
    connection.close()


def names(wire: Wire, pattern: str = "*") -> list[bytes]:
    return [line.rsplit(b" ", 1)[1] for line in list_lines(wire.ok(f'LIST "" "{pattern}"'))]


def status(wire: Wire, mailbox: str, items: str) -> bytes:
    (line,) = list_lines(wire.ok(f"STATUS {mailbox} ({items})"))
    return line


def item(line: bytes, name: bytes) -> int:
    return int(re.search(rb"\b" + name + rb" (\d+)", line).group(1))


# --- CREATE -------------------------------------------------------------------------------


def test_create_makes_the_missing_parents(wire):
    wire.ok("CREATE a/b/c")
    assert list_lines(wire.ok('LIST "" "a*"')) == [
        b'* LIST (\\HasChildren) "/" a',
        b'* LIST (\\HasChildren) "/" a/b',
        b'* LIST (\\HasNoChildren) "/" a/b/c',
    ]
    assert wire.ok("SELECT a/b")  # the parents are real mailboxes


def test_create_with_trailing_delimiter_creates_the_name_without_it(wire):
    wire.ok("CREATE projects/")
    assert names(wire, "proj*") == [b"projects"]
    wire.ok("CREATE projects/2026")
    assert names(wire, "proj*") == [b"projects", b"projects/2026"]


@pytest.mark.parametrize("name", ["Sent", "INBOX", "inbox", "InBoX", "INBOX/", '"inbox"'])
def test_create_an_existing_name_is_alreadyexists(wire, name):
    assert wire.status(f"CREATE {name}").startswith(b"NO [ALREADYEXISTS]")


@pytest.mark.parametrize(
    "argument",
    [
        pytest.param('""', id="empty"),
        pytest.param("/top", id="leading-delimiter"),
        pytest.param("a//b", id="adjacent-delimiters"),
        pytest.param("a&AAk-b", id="tab-in-modified-utf7"),
        pytest.param("x" * 1100, id="too-long"),
        pytest.param("y" * 300, id="level-too-long"),
        pytest.param("/".join(["z"] * 70), id="too-deep"),
    ],
)
def test_create_an_impossible_name_is_cannot_and_the_session_goes_on(wire, argument):
    assert wire.status(f"CREATE {argument}").startswith(b"NO [CANNOT]")
    wire.ok("NOOP")
    assert names(wire) == DEFAULT


@pytest.mark.parametrize(
    "argument",
    [
        pytest.param("", id="missing"),
        pytest.param("a b", id="extra"),
        pytest.param("(a)", id="list-as-name"),
        pytest.param("a (USE)", id="use-without-list"),
        pytest.param("a (USE (Sent))", id="use-without-backslash"),
        pytest.param("a (COLOR (red))", id="unknown-parameter"),
        pytest.param("a ()", id="empty-parameters"),
    ],
)
def test_create_with_bad_arguments_is_bad(wire, argument):
    data = f"CREATE {argument}".rstrip().encode("latin-1")
    assert wire.status(data).startswith(b"BAD")


@pytest.mark.parametrize(
    "argument",
    [
        pytest.param("&AOQ", id="broken-modified-utf7"),
        pytest.param('"\xc3\xa4"', id="8bit-in-rev1"),
        pytest.param('"Projekte/\xc3\x9cber"', id="8bit-level-in-rev1"),
        pytest.param("&AGEAYgBj-", id="ascii-encoded-in-modified-utf7"),
        pytest.param("{3+}\r\na\x01b", id="raw-control-char-in-rev1"),
    ],
)
def test_create_of_a_name_that_is_not_modified_utf7_is_no(wire, argument):
    """A valid astring that no mailbox can be called in IMAP4rev1 (RFC 3501 §5.1.3): NO, as
    Dovecot answers ("Mailbox name is not valid mUTF-7"), with RFC 5530's [CANNOT]; BAD would
    make mbsync abandon the rest of its channel. The session goes on."""
    data = f"CREATE {argument}".encode("latin-1")
    assert wire.status(data) == b"NO [CANNOT] Mailbox name is not valid mUTF-7"
    wire.ok("NOOP")
    assert names(wire) == DEFAULT  # nothing was created


def test_create_with_a_control_character_in_utf8_is_cannot(wire):
    wire.ok("ENABLE IMAP4rev2")
    assert wire.status(b"CREATE {3+}\r\na\nb").startswith(b"NO [CANNOT]")
    assert wire.status(b"CREATE {3+}\r\na\x7fb").startswith(b"NO [CANNOT]")
    assert wire.status(b'CREATE "a\xc2\x85b"').startswith(b"NO [CANNOT]")  # C1 control
    assert wire.status(b'CREATE "a\xffb"').startswith(b"BAD")  # not UTF-8


def test_create_special_use_marks_the_mailbox(wire):
    wire.ok("CREATE Outbox (USE (\\Sent))")
    wire.ok("CREATE Old (USE (\\archive \\Junk))")
    assert list_lines(wire.ok('LIST "" (Outbox Old) RETURN (SPECIAL-USE)')) == [
        b'* LIST (\\Archive \\Junk) "/" Old',
        b'* LIST (\\Sent) "/" Outbox',
    ]


@pytest.mark.parametrize("attribute", ["\\Bogus", "\\All", "\\Flagged"])
def test_create_with_an_unsupported_use_attribute_is_useattr(wire, attribute):
    assert wire.status(f"CREATE Virtual (USE ({attribute}))").startswith(b"NO [USEATTR]")
    assert names(wire, "Virtual") == []


def test_create_in_modified_utf7_is_the_utf8_name_after_enable(mail, wire):
    wire.ok("CREATE &AOQ-/Entw&APw-rfe")
    assert names(wire, "&AOQ-*") == [b"&AOQ-", b"&AOQ-/Entw&APw-rfe"]
    wire.ok("ENABLE IMAP4rev2")
    assert names(wire, "ä*") == ['"ä"'.encode(), '"ä/Entwürfe"'.encode()]
    wire.ok('SELECT "ä/Entwürfe"'.encode())
    other = Wire(mail)
    other.ok("ENABLE UTF8=ACCEPT")
    assert other.status('CREATE "ä"'.encode()).startswith(b"NO [ALREADYEXISTS]")
    other.close()


def test_create_denormalized_utf8_is_stored_in_nfc_with_oldname(wire):
    wire.ok("ENABLE IMAP4rev2")
    decomposed = "a\u0308".encode()
    lines = wire.ok(b'CREATE "' + decomposed + b'"')
    assert lines == ['* LIST () "/" "ä" ("OLDNAME" ("a\u0308"))'.encode()]
    assert names(wire, "ä") == ['"ä"'.encode()]
    wire.ok(b'SELECT "' + decomposed + b'"')  # the denormalized name works everywhere


def test_create_is_bad_before_login(mail):
    wire = Wire(mail, user=None)
    assert wire.status("CREATE x").startswith(b"BAD")
    wire.ok("LOGIN user pass")
    assert names(wire, "x") == []
    wire.close()


# --- DELETE -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["INBOX", "inbox"])
def test_delete_inbox_is_refused(wire, name):
    assert wire.status(f"DELETE {name}").startswith(b"NO [CANNOT]")


def test_delete_missing_mailbox_is_nonexistent(wire):
    assert wire.status("DELETE nowhere").startswith(b"NO [NONEXISTENT]")


def test_delete_a_mailbox_with_children_is_haschildren(wire):
    wire.ok("CREATE parent/child")
    assert wire.status("DELETE parent").startswith(b"NO [HASCHILDREN]")
    wire.ok("DELETE parent/child")
    wire.ok("DELETE parent")
    assert names(wire, "parent*") == []


def test_delete_removes_messages_and_only_unshared_bodies(tmp_path):
    db = tmp_path / "mail.db"
    with MailServer(users="user:pass,alice:wonder", db=str(db)) as mail:
        both = ["user@example.com", "alice@example.com"]
        mail.call(mail.server.postoffice.deliver, both, message("shared"), "Shared")
        deliver(mail, "Shared", message("mine"))
        wire = Wire(mail)
        wire.ok("DELETE Shared")

        def bodies() -> int:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT count(*) FROM bodies").fetchone()[0]

        assert bodies() == 1  # alice's copy still uses the shared body
        alice = Wire(mail, "alice", "wonder")
        assert status(alice, "Shared", "MESSAGES") == b"* STATUS Shared (MESSAGES 1)"
        alice.ok("DELETE Shared")
        assert bodies() == 0
        wire.close()
        alice.close()


def test_a_recreated_mailbox_has_a_new_uidvalidity_and_no_old_messages(mail, wire):
    deliver(mail, "Reports", message("one"), message("two"))
    before = status(wire, "Reports", "UIDVALIDITY UIDNEXT MESSAGES")
    wire.ok("DELETE Reports")
    wire.ok("CREATE Reports")
    after = status(wire, "Reports", "UIDVALIDITY UIDNEXT MESSAGES")
    assert item(after, b"UIDVALIDITY") > item(before, b"UIDVALIDITY")
    assert (item(after, b"UIDNEXT"), item(after, b"MESSAGES")) == (1, 0)


def test_delete_of_the_selected_mailbox_closes_it(mail, wire):
    deliver(mail, "Doomed", message())
    wire.ok("SELECT Doomed")
    assert wire.ok("DELETE Doomed") == [b"* OK [CLOSED] Selected mailbox was deleted"]
    assert wire.status("FETCH 1 FLAGS").startswith(b"BAD")  # no mailbox selected now
    wire.ok("SELECT INBOX")


def test_delete_of_a_mailbox_selected_elsewhere_expunges_its_messages_there(mail, wire):
    deliver(mail, "Doomed", message("one"), message("two"))
    watcher = Wire(mail)
    watcher.ok("SELECT Doomed")
    wire.ok("DELETE Doomed")
    assert watcher.ok("NOOP") == [b"* 2 EXPUNGE", b"* 1 EXPUNGE"]
    assert watcher.ok("UID FETCH 1:* FLAGS") == []
    watcher.close()


def test_delete_keeps_the_subscription(wire):
    wire.ok("CREATE Kept")
    wire.ok("SUBSCRIBE Kept")
    wire.ok("DELETE Kept")
    assert list_lines(wire.ok('LIST (SUBSCRIBED) "" Kept')) == [
        b'* LIST (\\Subscribed \\NonExistent) "/" Kept'
    ]


# --- RENAME -------------------------------------------------------------------------------


def test_rename_moves_the_subtree_and_keeps_uids(mail, wire):
    wire.ok("CREATE a/b")
    deliver(mail, "a/b", message("one"), message("two"))
    before = status(wire, "a/b", "UIDVALIDITY UIDNEXT MESSAGES")
    wire.ok("RENAME a z/y")
    assert names(wire, "a*") == []
    assert names(wire, "z*") == [b"z", b"z/y", b"z/y/b"]
    after = status(wire, "z/y/b", "UIDVALIDITY UIDNEXT MESSAGES")
    assert after == before.replace(b"a/b", b"z/y/b")
    wire.ok("SELECT z/y/b")
    assert wire.ok("UID FETCH 1:* UID") == [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 2)"]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("RENAME Sent Drafts", b"NO [ALREADYEXISTS]"),
        ("RENAME Sent inbox", b"NO [ALREADYEXISTS]"),
        ("RENAME Sent Sent", b"NO [ALREADYEXISTS]"),
        ("RENAME nowhere elsewhere", b"NO [NONEXISTENT]"),
        ("RENAME Sent Sent/inside", b"NO [CANNOT]"),
        ("RENAME Sent a//b", b"NO [CANNOT]"),
        ("RENAME Sent", b"BAD"),
        ("RENAME Sent a b", b"BAD"),
        ("RENAME &Jjo Sent2", b"NO [CANNOT]"),
        ("RENAME Sent &Jjo", b"NO [CANNOT]"),
    ],
)
def test_rename_errors(wire, command, code):
    assert wire.status(command).startswith(code)
    assert names(wire, "Sent*") == [b"Sent"]


def test_rename_onto_a_child_name_that_exists_is_alreadyexists(wire):
    wire.ok("CREATE src/kid")
    wire.ok("CREATE dst/kid")
    wire.ok("DELETE dst/kid")
    wire.ok("DELETE dst")
    wire.ok("CREATE dst/kid")  # dst exists again (created as a parent)
    assert wire.status("RENAME src dst").startswith(b"NO [ALREADYEXISTS]")
    assert names(wire, "src*") == [b"src", b"src/kid"]


def test_rename_inbox_moves_its_messages_and_leaves_its_children(mail, wire):
    deliver(mail, "INBOX", message("one"), message("two"))
    wire.ok("CREATE INBOX/kid")
    wire.ok("RENAME INBOX Old")
    assert names(wire, "INBOX*") == [b"INBOX", b"INBOX/kid"]
    assert status(wire, "INBOX", "MESSAGES UIDNEXT") == b"* STATUS INBOX (MESSAGES 0 UIDNEXT 3)"
    assert status(wire, "Old", "MESSAGES UIDNEXT") == b"* STATUS Old (MESSAGES 2 UIDNEXT 3)"
    wire.ok("SELECT Old")
    assert wire.ok("UID FETCH 1:* UID") == [b"* 1 FETCH (UID 1)", b"* 2 FETCH (UID 2)"]
    deliver(mail, "INBOX", message("three"))
    assert status(wire, "INBOX", "MESSAGES UIDNEXT") == b"* STATUS INBOX (MESSAGES 1 UIDNEXT 4)"


def test_rename_inbox_while_selected_reports_the_expunges(mail, wire):
    deliver(mail, "INBOX", message("one"), message("two"))
    watcher = Wire(mail)
    watcher.ok("SELECT INBOX")
    wire.ok("SELECT INBOX")
    assert wire.ok("RENAME INBOX Old") == [b"* 2 EXPUNGE", b"* 1 EXPUNGE"]
    assert watcher.ok("NOOP") == [b"* 2 EXPUNGE", b"* 1 EXPUNGE"]
    watcher.close()


def test_rename_of_the_selected_mailbox_keeps_the_session_working(mail, wire):
    deliver(mail, "Here", message())
    wire.ok("ENABLE IMAP4rev2")
    wire.ok("SELECT Here")
    wire.ok("RENAME Here There")
    assert wire.ok("FETCH 1 UID") == [b"* 1 FETCH (UID 1)"]
    deliver(mail, "There", message("two"))
    assert wire.ok("NOOP") == [b"* 2 EXISTS"]


def test_rename_onto_a_retired_name_gets_a_greater_uidvalidity(wire):
    wire.ok("CREATE Older")
    wire.ok("CREATE Newer")
    newer = status(wire, "Newer", "UIDVALIDITY")
    wire.ok("DELETE Newer")
    wire.ok("RENAME Older Newer")
    renamed = status(wire, "Newer", "UIDVALIDITY")
    assert item(renamed, b"UIDVALIDITY") > item(newer, b"UIDVALIDITY")


def test_rename_keeps_uidvalidity_of_a_fresh_name(wire):
    wire.ok("CREATE Fresh")
    before = status(wire, "Fresh", "UIDVALIDITY")
    wire.ok("RENAME Fresh NeverUsed")
    assert status(wire, "NeverUsed", "UIDVALIDITY") == before.replace(b"Fresh", b"NeverUsed")


def test_rename_leaves_subscriptions_alone(wire):
    wire.ok("CREATE Sub")
    wire.ok("SUBSCRIBE Sub")
    wire.ok("RENAME Sub Moved")
    assert list_lines(wire.ok('LIST (SUBSCRIBED) "" "Sub" RETURN (CHILDREN)')) == [
        b'* LIST (\\Subscribed \\NonExistent \\HasNoChildren) "/" Sub'
    ]
    assert list_lines(wire.ok('LIST (SUBSCRIBED) "" "Moved"')) == []


# --- SUBSCRIBE / UNSUBSCRIBE --------------------------------------------------------------


def test_subscribe_a_name_that_does_not_exist_is_no(wire):
    """RFC 9051 §6.3.7: "A server MAY validate the mailbox argument to SUBSCRIBE to verify
    that it exists"; Dovecot does, and so do we (NO [NONEXISTENT])."""
    assert wire.status("SUBSCRIBE Future/Plans") == b"NO [NONEXISTENT] Mailbox does not exist"
    assert list_lines(wire.ok('LIST (SUBSCRIBED) "" "Fut*"')) == []


def test_a_subscribed_mailbox_that_is_deleted_stays_subscribed(wire):
    """RFC 9051 §6.3.7: the server "SHOULD NOT unilaterally remove an existing mailbox name
    from the subscription list even if a mailbox by that name no longer exists"."""
    wire.ok("CREATE Future/Plans")
    wire.ok("SUBSCRIBE Future/Plans")
    assert list_lines(wire.ok('LIST (SUBSCRIBED) "" "Fut*/*"')) == [
        b'* LIST (\\Subscribed) "/" Future/Plans'
    ]
    wire.ok("DELETE Future/Plans")
    assert list_lines(wire.ok('LIST (SUBSCRIBED) "" "Fut*/*"')) == [
        b'* LIST (\\Subscribed \\NonExistent) "/" Future/Plans'
    ]


def test_subscriptions_persist_across_connections_and_are_per_user(mail, wire):
    wire.ok("CREATE Junk2")
    wire.ok("SUBSCRIBE Junk2")
    wire.ok("SUBSCRIBE Junk2")  # twice is fine
    wire.close()
    again = Wire(mail)
    assert list_lines(again.ok('LSUB "" Junk2')) == [b'* LSUB () "/" Junk2']
    alice = Wire(mail, "alice", "wonder")
    assert list_lines(alice.ok('LSUB "" Junk2')) == []
    again.close()
    alice.close()


def test_unsubscribe_is_ok_whether_or_not_subscribed(wire):
    wire.ok("UNSUBSCRIBE Sent")
    wire.ok("UNSUBSCRIBE Sent")
    wire.ok("UNSUBSCRIBE never-subscribed")
    assert b"Sent" not in b"".join(wire.ok('LSUB "" "*"'))


def test_subscribe_trailing_delimiter_and_inbox_case(wire):
    wire.ok("CREATE later")
    wire.ok("SUBSCRIBE later/")
    wire.ok("UNSUBSCRIBE inbox")
    assert list_lines(wire.ok('LSUB "" "*"'))[-1] == b'* LSUB () "/" later'
    assert b" INBOX" not in b"".join(wire.ok('LSUB "" "*"'))


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("SUBSCRIBE", b"BAD"),
        ("SUBSCRIBE a b", b"BAD"),
        ("UNSUBSCRIBE", b"BAD"),
        ("SUBSCRIBE a*", b"NO [NONEXISTENT]"),  # a name it could have; none has it
        ("SUBSCRIBE a//b", b"NO [CANNOT]"),
        ("SUBSCRIBE &Jjo", b"NO [CANNOT]"),
    ],
)
def test_subscribe_bad_input(wire, command, answer):
    assert wire.status(command).startswith(answer)
    wire.ok("NOOP")


# --- STATUS -------------------------------------------------------------------------------


def test_status_counts_messages_flags_and_size(mail, wire):
    raws = [message("one"), message("two"), message("three", b"longer body\r\n")]
    deliver(mail, "Counted", *raws)
    wire.ok("SELECT Counted")
    wire.ok("STORE 1 +FLAGS (\\Seen)")
    wire.ok("STORE 2 +FLAGS (\\Deleted \\Seen)")
    wire.ok("SELECT INBOX")
    line = status(wire, "Counted", "SIZE DELETED UNSEEN MESSAGES UIDNEXT RECENT")
    size = sum(len(r) for r in raws)
    expected = b"* STATUS Counted (MESSAGES 3 RECENT 0 UIDNEXT 4 UNSEEN 1 DELETED 1 SIZE %d)"
    assert line == expected % size


def test_status_of_the_selected_mailbox_is_answered(wire):
    wire.ok("SELECT INBOX")
    untagged, tagged = wire.exchange("STATUS INBOX (MESSAGES)")
    assert untagged == [b"* STATUS INBOX (MESSAGES 0)"]
    assert tagged.startswith(b"OK")


def test_status_recent_is_rev1_only(wire):
    assert status(wire, "inbox", "RECENT") == b"* STATUS INBOX (RECENT 0)"
    wire.ok("ENABLE IMAP4rev2")
    assert wire.status("STATUS INBOX (RECENT)").startswith(b"BAD")
    assert status(wire, "INBOX", "DELETED SIZE") == b"* STATUS INBOX (DELETED 0 SIZE 0)"


@pytest.mark.parametrize(
    ("arguments", "answer"),
    [
        ("nowhere (MESSAGES)", b"NO [NONEXISTENT]"),
        ("INBOX (BOGUS)", b"BAD"),
        ("INBOX ()", b"BAD"),
        ("INBOX MESSAGES", b"BAD"),
        ("INBOX", b"BAD"),
        ("", b"BAD"),
        ("INBOX (MESSAGES) extra", b"BAD"),
        ("INBOX ((MESSAGES))", b"BAD"),
        ("* (MESSAGES)", b"NO [NONEXISTENT]"),
        ("../x (MESSAGES)", b"NO [CANNOT] Invalid mailbox name: contains a '..' level"),
    ],
)
def test_status_bad_input(wire, arguments, answer):
    assert wire.status(f"STATUS {arguments}".rstrip()).startswith(answer)
    wire.ok("NOOP")


def test_status_with_imapclient(mail):
    deliver(mail, "Reports", message())
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        got = client.folder_status("Reports", ["MESSAGES", "UNSEEN", "UIDNEXT"])
        assert got == {b"MESSAGES": 1, b"UNSEEN": 1, b"UIDNEXT": 2}


# --- NAMESPACE and states ------------------------------------------------------------------


def test_namespace(wire):
    assert wire.ok("NAMESPACE") == [b'* NAMESPACE (("" "/")) NIL NIL']
    assert wire.status("NAMESPACE extra").startswith(b"BAD")


def test_namespace_with_imapclient(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        namespace = client.namespace()
        assert namespace.personal == (("", "/"),)
        assert namespace.other is None and namespace.shared is None


@pytest.mark.parametrize(
    "command",
    [
        "CREATE x",
        "DELETE Sent",
        "RENAME Sent x",
        "SUBSCRIBE x",
        "UNSUBSCRIBE x",
        'LIST "" *',
        'LSUB "" *',
        "STATUS INBOX (MESSAGES)",
        "NAMESPACE",
    ],
)
def test_mailbox_commands_are_bad_before_login(mail, command):
    wire = Wire(mail, user=None)
    assert wire.status(command).startswith(b"BAD")
    wire.ok("LOGIN user pass")
    assert names(wire) == DEFAULT
    wire.close()


HUGE = b"{20000+}\r\n" + b"h" * 20000


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        (b"SELECT " + HUGE, b"NO [NONEXISTENT]"),
        (b"STATUS " + HUGE + b" (MESSAGES)", b"NO [NONEXISTENT]"),
        (b"DELETE " + HUGE, b"NO [NONEXISTENT]"),
        (b"RENAME " + HUGE + b" x", b"NO [NONEXISTENT]"),
        (b"RENAME Sent " + HUGE, b"NO [CANNOT]"),
        (b"SUBSCRIBE " + HUGE, b"NO [CANNOT]"),
        (b"UNSUBSCRIBE " + HUGE, b"OK"),
        (b'LIST "" ' + HUGE, b"OK"),
        (b"DELETE *", b"NO [NONEXISTENT]"),
        (b"RENAME Sent %", b"OK"),  # RFC 9051 §5.1: wildcards are valid in a name
        (b'RENAME Sent "a\\\\b/"', b"OK"),  # a backslash is an ordinary character
    ],
)
def test_hostile_names_get_an_answer_and_the_session_goes_on(wire, command, answer):
    assert wire.status(command).startswith(answer)
    assert names(wire, "INBOX") == [b"INBOX"]


def test_folder_management_with_imapclient(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        client.create_folder("Projekte/Übersicht")  # imapclient encodes modified UTF-7
        assert client.folder_exists("Projekte/Übersicht")
        client.rename_folder("Projekte", "Archiv")
        folders = [name for _flags, _delim, name in client.list_folders("Archiv/")]
        assert folders == ["Archiv/Übersicht"]
        client.delete_folder("Archiv/Übersicht")
        assert client.list_sub_folders() != []
        assert client.find_special_folder(b"\\Sent") == "Sent"


def test_database_of_schema_1_keeps_its_subscriptions(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA_1)
    conn.execute("INSERT INTO users(id, name, password) VALUES (1, 'user', 'pass')")
    conn.executemany(
        "INSERT INTO mailboxes(user_id, name, uidvalidity, subscribed) VALUES (1, ?, 7, ?)",
        [("INBOX", 1), ("Kept", 1), ("Plain", 0)],
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with MailServer(db=str(db), users="user:pass") as mail:
        wire = Wire(mail)
        subscribed = list_lines(wire.ok('LIST (SUBSCRIBED) "" "*"'))
        assert b'* LIST (\\Subscribed) "/" Kept' in subscribed
        assert all(b"Plain" not in line for line in subscribed)
        assert status(wire, "Plain", "UIDVALIDITY") == b"* STATUS Plain (UIDVALIDITY 7)"
        wire.close()


# The version 1 schema, as the first release wrote it.
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE users (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE, password TEXT,
    email TEXT UNIQUE COLLATE NOCASE, seeded INTEGER NOT NULL DEFAULT 0);
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL DEFAULT 1,
    subscribed INTEGER NOT NULL DEFAULT 0, special_use TEXT, UNIQUE (user_id, name));
CREATE TABLE bodies (id INTEGER PRIMARY KEY, raw BLOB NOT NULL, structure TEXT NOT NULL);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL, flags TEXT NOT NULL DEFAULT '', internal_date REAL NOT NULL,
    tz_minutes INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL,
    body_id INTEGER NOT NULL REFERENCES bodies(id), UNIQUE (mailbox_id, uid));
CREATE INDEX messages_body ON messages(body_id);
"""


def test_list_wildcards_are_valid_in_a_name_as_dovecot_creates_them(wire):
    # RFC 9051 §5.1: "the list-wildcard characters ("%" and "*") are valid in a mailbox name"
    wire.ok("CREATE a*b")
    wire.ok('CREATE "100%"')
    # list-wildcards are not atom-chars (RFC 9051 §9): LIST quotes the names
    assert {b'"a*b"', b'"100%"'} <= set(names(wire))
    wire.ok("SELECT a*b")
