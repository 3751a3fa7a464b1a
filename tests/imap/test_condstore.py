"""CONDSTORE (RFC 7162 §3.1) over the wire, byte for byte, in the forms the reference Dovecot
answers: ENABLE, SELECT (CONDSTORE), HIGHESTMODSEQ, FETCH MODSEQ and CHANGEDSINCE, STORE
UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ, STATUS HIGHESTMODSEQ, and the MODSEQ of changes
made elsewhere. A new INBOX is at mod-sequence 1 and each delivery takes the next one."""

from __future__ import annotations

import pytest

from elektromail.imap.commands import fetch as fetch_command
from elektromail.testing import MailServer
from tests.imap.wire import ImapWire


def deliver(mail: MailServer, count: int) -> None:
    for i in range(count):
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: %d\r\n\r\nbody\r\n" % i)


def session(mail: MailServer, *enable: bytes, select: bytes = b"SELECT INBOX") -> ImapWire:
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")  # no \Recent in the lines below
    for name in enable:
        wire.command(b"e ENABLE " + name)
    wire.command(b"s " + select)
    return wire


def tagged(wire: ImapWire, line: bytes) -> bytes:
    return wire.responses(line)[-1]


def test_condstore_is_advertised(mail):
    wire = ImapWire(mail.imap_port)
    wire.login()
    assert b" CONDSTORE" in wire.command(b"c CAPABILITY").split(b"\r\n")[0]


def test_enable_with_a_mailbox_selected_sends_highestmodseq_first(mail):
    # RFC 7162 §3.1: "A first CONDSTORE enabling command executed in the session with a
    # mailbox selected MUST cause the server to return HIGHESTMODSEQ"
    deliver(mail, 2)
    wire = session(mail)
    assert wire.command(b"e ENABLE CONDSTORE") == (
        b"* OK [HIGHESTMODSEQ 3] Highest\r\n* ENABLED CONDSTORE\r\ne OK ENABLE completed\r\n"
    )
    assert wire.command(b"f ENABLE CONDSTORE") == b"* ENABLED\r\nf OK ENABLE completed\r\n"


@pytest.mark.parametrize("select", [b"SELECT INBOX (CONDSTORE)", b"EXAMINE INBOX (CONDSTORE)"])
def test_select_with_the_condstore_parameter_reports_highestmodseq(mail, select):
    # RFC 7162 §3.1.2.1, §3.1.8
    deliver(mail, 3)
    wire = ImapWire(mail.imap_port)
    wire.login()
    lines = wire.responses(b"s " + select)
    assert b"* OK [HIGHESTMODSEQ 4] Highest\r\n" in lines
    assert wire.command(b"f FETCH 1 (MODSEQ)").startswith(b"* 1 FETCH (MODSEQ (2))\r\n")


def test_select_without_condstore_has_no_highestmodseq(mail):
    deliver(mail, 1)
    wire = ImapWire(mail.imap_port)
    wire.login()
    assert not any(b"HIGHESTMODSEQ" in line for line in wire.responses(b"s SELECT INBOX"))


def test_select_refuses_an_unknown_parameter_and_leaves_nothing_selected(mail):
    wire = session(mail)
    assert tagged(wire, b"s SELECT INBOX (FOO)").startswith(b"s BAD ")
    # the arguments are checked before anything changes: the mailbox selected stays so
    assert tagged(wire, b"n NOOP") == b"n OK NOOP completed\r\n"
    assert tagged(wire, b"c CLOSE") == b"c OK CLOSE completed\r\n"


def test_fetch_modseq_enables_condstore_and_reports_each_message(mail):
    # RFC 7162 §3.1.4.2, Example 13
    deliver(mail, 3)
    wire = session(mail)
    assert wire.command(b"f FETCH 1:3 (MODSEQ)") == (
        b"* OK [HIGHESTMODSEQ 4] Highest\r\n"
        b"* 1 FETCH (MODSEQ (2))\r\n* 2 FETCH (MODSEQ (3))\r\n* 3 FETCH (MODSEQ (4))\r\n"
        b"f OK FETCH completed\r\n"
    )


def test_fetch_changedsince_answers_only_what_changed_and_adds_modseq(mail):
    # RFC 7162 §3.1.4.1, Example 12
    deliver(mail, 4)
    wire = session(mail, b"CONDSTORE")
    wire.command(b"t STORE 2,4 +FLAGS.SILENT (\\Flagged)")
    assert wire.command(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5)") == (
        b"* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (6))\r\n"
        b"* 4 FETCH (UID 4 FLAGS (\\Flagged) MODSEQ (6))\r\n"
        b"f OK UID FETCH completed\r\n"
    )
    assert wire.command(b"g FETCH 1:* (FLAGS) (CHANGEDSINCE 6)") == b"g OK FETCH completed\r\n"
    # mod-sequence-valzer: 0 is every message
    assert wire.command(b"h FETCH 1 (UID) (CHANGEDSINCE 0)") == (
        b"* 1 FETCH (UID 1 MODSEQ (2))\r\nh OK FETCH completed\r\n"
    )


@pytest.mark.parametrize(
    "modifiers",
    [
        b"(CHANGEDSINCE -1)",
        b"(CHANGEDSINCE)",
        b"(CHANGEDSINCE abc)",
        b"(CHANGEDSINCE 9223372036854775808)",  # above 2^63 - 1 (RFC 7162 §7)
        b"(CHANGEDSINCE 99999999999999999999999)",
        b"(CHANGEDSINCE 1 CHANGEDSINCE 2)",
        b"(CHANGEDSINCE 1 FOO)",
        b"(VANISHED)",
    ],
)
def test_fetch_refuses_bad_modifiers(mail, modifiers):
    deliver(mail, 1)
    wire = session(mail)
    assert tagged(wire, b"f FETCH 1 (FLAGS) " + modifiers).startswith(b"f BAD ")
    assert tagged(wire, b"n NOOP") == b"n OK NOOP completed\r\n"


def test_the_largest_modseq_is_accepted(mail):
    deliver(mail, 1)
    wire = session(mail, b"CONDSTORE")
    assert wire.command(b"f FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775807)") == (
        b"f OK FETCH completed\r\n"
    )


def test_store_reports_the_new_modseq_even_when_silent(mail):
    # RFC 7162 §3.1.4.2, Example 14: "STORE 7 +FLAGS.SILENT (\Deleted)" answers
    # "* 7 FETCH (MODSEQ (...))" in a CONDSTORE-aware session, as Dovecot does
    deliver(mail, 2)
    wire = session(mail, b"CONDSTORE")
    assert wire.command(b"t STORE 1 +FLAGS.SILENT (\\Seen)") == (
        b"* 1 FETCH (MODSEQ (4))\r\nt OK STORE completed\r\n"
    )
    assert wire.command(b"u UID STORE 2 +FLAGS (\\Seen)") == (
        b"* 2 FETCH (UID 2 MODSEQ (5) FLAGS (\\Seen))\r\nu OK UID STORE completed\r\n"
    )
    # nothing changed, nothing to tell in a silent STORE
    assert wire.command(b"v STORE 1 +FLAGS.SILENT (\\Seen)") == b"v OK STORE completed\r\n"


def test_store_unchangedsince_refuses_what_changed_after_it(mail):
    # RFC 7162 §3.1.3, Example 5 and 10: the rest is stored, the refused go in MODIFIED
    deliver(mail, 3)
    wire = session(mail, b"CONDSTORE")
    wire.command(b"t STORE 2 +FLAGS.SILENT ($Hot)")  # 2 now at modseq 5
    assert wire.command(b"u STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS.SILENT (\\Seen)") == (
        b"* 1 FETCH (MODSEQ (6))\r\n* 3 FETCH (MODSEQ (6))\r\n"
        b"u OK [MODIFIED 2] Conditional store failed\r\n"
    )
    assert (
        wire.command(b"f FETCH 2 (FLAGS)")
        == b"* 2 FETCH (FLAGS ($Hot))\r\nf OK FETCH completed\r\n"
    )


def test_uid_store_unchangedsince_names_uids_in_modified(mail):
    deliver(mail, 3)
    wire = session(mail)
    wire.command(b"x UID STORE 1 +FLAGS ($X)")
    wire.command(b"x UID STORE 1 -FLAGS ($X)")
    # UNCHANGEDSINCE 0 refuses every message (RFC 7162 §3.1.3); UNCHANGEDSINCE enables
    assert wire.command(b"u UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS ($Y)") == (
        b"* OK [HIGHESTMODSEQ 6] Highest\r\n"
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $X $Y)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $X $Y \\*)]"
        b" Flags permitted\r\n"
        b"u OK [MODIFIED 1:3] Conditional store failed\r\n"
    )
    answer = wire.command(b"v UID STORE 2:3 (UNCHANGEDSINCE 3) +FLAGS ($Z)")
    assert answer.endswith(
        b"* 2 FETCH (UID 2 MODSEQ (7) FLAGS ($Z))\r\nv OK [MODIFIED 3] Conditional store failed\r\n"
    )


@pytest.mark.parametrize(
    "modifier",
    [b"(UNCHANGEDSINCE abc)", b"(UNCHANGEDSINCE)", b"(UNCHANGEDSINCE -3)", b"(CHANGEDSINCE 1)",
     b"(UNCHANGEDSINCE 9223372036854775808)", b"()"],
)  # fmt: skip
def test_store_refuses_bad_modifiers_and_changes_nothing(mail, modifier):
    deliver(mail, 1)
    wire = session(mail)
    assert tagged(wire, b"t STORE 1 " + modifier + b" +FLAGS (\\Seen)").startswith(b"t BAD ")
    assert wire.command(b"f FETCH 1 (FLAGS)") == b"* 1 FETCH (FLAGS ())\r\nf OK FETCH completed\r\n"


def test_another_session_s_change_comes_with_its_modseq(mail):
    # RFC 7162 §3.1.4.2, Example 14: "* 7 FETCH (FLAGS (\Deleted \Answered) MODSEQ (...))"
    deliver(mail, 2)
    watcher = session(mail, b"CONDSTORE")
    other = session(mail)
    other.command(b"t STORE 2 +FLAGS (\\Flagged)")
    assert watcher.command(b"n NOOP") == (
        b"* 2 FETCH (UID 2 MODSEQ (4) FLAGS (\\Flagged))\r\nn OK NOOP completed\r\n"
    )


def test_a_rev1_session_hears_of_changes_without_uid_modseq_first(mail):
    deliver(mail, 1)
    watcher = ImapWire(mail.imap_port)
    watcher.login()
    watcher.command(b"e ENABLE CONDSTORE")
    watcher.command(b"s SELECT INBOX")
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 1, ["\\Flagged"])
    assert watcher.command(b"n NOOP") == (
        b"* 1 FETCH (MODSEQ (3) FLAGS (\\Flagged \\Recent))\r\nn OK NOOP completed\r\n"
    )


def test_a_session_without_condstore_hears_of_changes_as_before(mail):
    deliver(mail, 1)
    watcher = session(mail)
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 1, ["\\Flagged"])
    assert watcher.command(b"n NOOP") == (
        b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\nn OK NOOP completed\r\n"
    )


def test_search_modseq_adds_the_highest_modseq_of_the_matches(mail):
    # RFC 7162 §3.1.5, §3.1.6: "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)"
    deliver(mail, 4)
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"s SELECT INBOX")
    assert wire.command(b"f SEARCH MODSEQ 4") == (
        b"* OK [HIGHESTMODSEQ 5] Highest\r\n* SEARCH 3 4 (MODSEQ 5)\r\nf OK SEARCH completed\r\n"
    )
    assert wire.command(b'g SEARCH MODSEQ "/flags/\\\\draft" all 3') == (
        b"* SEARCH 2 3 4 (MODSEQ 5)\r\ng OK SEARCH completed\r\n"
    )
    assert wire.command(b"h SEARCH MODSEQ 6") == b"* SEARCH\r\nh OK SEARCH completed\r\n"
    assert wire.command(b"i UID SEARCH OR MODSEQ 5 UID 1") == (
        b"* SEARCH 1 4 (MODSEQ 5)\r\ni OK UID SEARCH completed\r\n"
    )


def test_esearch_modseq_covers_the_messages_it_returns(mail):
    # RFC 7162 §3.1.10 and imaptest's esearch-condstore: MIN alone reports its message's
    deliver(mail, 3)
    wire = session(mail, b"CONDSTORE")
    assert wire.command(b"f SEARCH RETURN (MIN) MODSEQ 1") == (
        b'* ESEARCH (TAG "f") MIN 1 MODSEQ 2\r\nf OK SEARCH completed\r\n'
    )
    assert wire.command(b"g SEARCH RETURN (COUNT) MODSEQ 1") == (
        b'* ESEARCH (TAG "g") COUNT 3 MODSEQ 4\r\ng OK SEARCH completed\r\n'
    )
    assert wire.command(b"h SEARCH RETURN (ALL) MODSEQ 9") == (
        b'* ESEARCH (TAG "h")\r\nh OK SEARCH completed\r\n'
    )


@pytest.mark.parametrize(
    "key",
    [b"MODSEQ x", b"MODSEQ", b'MODSEQ "/flags/\\\\seen" foo 1', b'MODSEQ "/flags/\\\\seen" all',
     b"MODSEQ 9223372036854775808", b"MODSEQ (1)"],
)  # fmt: skip
def test_search_refuses_a_bad_modseq_key(mail, key):
    deliver(mail, 1)
    wire = session(mail)
    assert tagged(wire, b"f SEARCH " + key).startswith(b"f BAD ")


def test_status_highestmodseq(mail):
    # RFC 7162 §3.1.7, in Dovecot's order of items
    deliver(mail, 2)
    wire = ImapWire(mail.imap_port)
    wire.login()
    assert wire.command(b"t STATUS INBOX (HIGHESTMODSEQ MESSAGES)") == (
        b"* STATUS INBOX (MESSAGES 2 HIGHESTMODSEQ 3)\r\nt OK STATUS completed\r\n"
    )


def test_status_highestmodseq_follows_changes_made_elsewhere(mail):
    deliver(mail, 1)
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 1, ["\\Seen"])
    wire = ImapWire(mail.imap_port)
    wire.login()
    assert wire.command(b"t STATUS INBOX (HIGHESTMODSEQ)") == (
        b"* STATUS INBOX (HIGHESTMODSEQ 3)\r\nt OK STATUS completed\r\n"
    )


# RFC 7162 §3.2.4: "the server MUST automatically include both UID and mod-sequence data in all
# subsequent untagged FETCH responses ..., whether they were caused by a regular STORE/UID STORE,
# ..., a FETCH/UID FETCH that implicitly set the \Seen flag, or an external agent"; §3.1.4.2:
# "Servers that only support the CONDSTORE extension (and not QRESYNC) SHOULD comply with
# requirements from Section 3.2.4." As Dovecot: the FETCH's own responses first, then
# `* n FETCH ([UID u] MODSEQ (m))` for each message it marked \Seen, UID in a QRESYNC session.
def test_fetch_that_sets_seen_reports_the_new_modseq(mail):
    deliver(mail, 2)
    wire = session(mail, b"CONDSTORE")
    assert wire.command(b"f FETCH 1 (BODY[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen))\r\n"
        b"* 1 FETCH (MODSEQ (4))\r\nf OK FETCH completed\r\n"
    )
    # already \Seen: nothing changed, no mod-sequence to report
    assert wire.command(b"g FETCH 1 (BODY[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {6}\r\nbody\r\n)\r\ng OK FETCH completed\r\n"
    )
    assert wire.command(b"h FETCH 1:2 (MODSEQ)") == (
        b"* 1 FETCH (MODSEQ (4))\r\n* 2 FETCH (MODSEQ (3))\r\nh OK FETCH completed\r\n"
    )


def test_fetch_that_sets_seen_reports_the_modseq_after_what_it_showed(mail):
    deliver(mail, 3)
    wire = session(mail, b"CONDSTORE")
    wire.command(b"t STORE 2 +FLAGS.SILENT (\\Seen)")  # 2 at 5, left alone by the FETCH below
    assert wire.command(b"f FETCH 1:3 (MODSEQ BODY[TEXT])") == (
        b"* 1 FETCH (MODSEQ (2) BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen))\r\n"
        b"* 2 FETCH (MODSEQ (5) BODY[TEXT] {6}\r\nbody\r\n)\r\n"
        b"* 3 FETCH (MODSEQ (4) BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen))\r\n"
        b"* 1 FETCH (MODSEQ (6))\r\n* 3 FETCH (MODSEQ (6))\r\nf OK FETCH completed\r\n"
    )


def test_uid_fetch_that_sets_seen_adds_the_uid_only_for_qresync(mail):
    deliver(mail, 2)
    condstore = session(mail, b"CONDSTORE")
    assert condstore.responses(b"f UID FETCH 1 (BODY[])")[1:] == [
        b"* 1 FETCH (MODSEQ (4))\r\n",
        b"f OK UID FETCH completed\r\n",
    ]
    qresync = session(mail, b"QRESYNC")
    assert qresync.responses(b"f UID FETCH 2 (BINARY[1])")[1:] == [
        b"* 2 FETCH (UID 2 MODSEQ (5))\r\n",
        b"f OK UID FETCH completed\r\n",
    ]
    assert qresync.responses(b"g FETCH 1:2 (BODY[])") == [
        b"* 1 FETCH (BODY[] {20}\r\nSubject: 0\r\n\r\nbody\r\n)\r\n",
        b"* 2 FETCH (BODY[] {20}\r\nSubject: 1\r\n\r\nbody\r\n)\r\n",
        b"g OK FETCH completed\r\n",
    ]


def test_fetch_changedsince_that_sets_seen_reports_both_modseqs(mail):
    deliver(mail, 2)
    wire = session(mail, b"CONDSTORE")
    assert wire.command(b"f FETCH 1:* (BODY[TEXT]) (CHANGEDSINCE 2)") == (
        b"* 2 FETCH (BODY[TEXT] {6}\r\nbody\r\n MODSEQ (3) FLAGS (\\Seen))\r\n"
        b"* 2 FETCH (MODSEQ (4))\r\nf OK FETCH completed\r\n"
    )


def test_fetch_that_sets_seen_without_condstore_reports_no_modseq(mail):
    deliver(mail, 1)
    wire = session(mail)
    assert wire.command(b"f FETCH 1 (BODY[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {6}\r\nbody\r\n FLAGS (\\Seen))\r\nf OK FETCH completed\r\n"
    )


def test_fetch_in_examine_sets_nothing_and_reports_no_modseq(mail):
    deliver(mail, 1)
    wire = session(mail, b"CONDSTORE", select=b"EXAMINE INBOX")
    assert wire.command(b"f FETCH 1 (BODY[TEXT])") == (
        b"* 1 FETCH (BODY[TEXT] {6}\r\nbody\r\n)\r\nf OK FETCH completed\r\n"
    )


def test_another_session_hears_of_the_seen_a_fetch_set(mail):
    deliver(mail, 1)
    watcher = session(mail, b"CONDSTORE")
    reader = session(mail)
    reader.command(b"f FETCH 1 (BODY[])")
    assert watcher.command(b"n NOOP") == (
        b"* 1 FETCH (UID 1 MODSEQ (3) FLAGS (\\Seen))\r\nn OK NOOP completed\r\n"
    )


def test_the_modseq_a_fetch_set_survives_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        deliver(server, 1)
        wire = session(server, b"CONDSTORE")
        assert wire.responses(b"f FETCH 1 (BODY[])")[1] == b"* 1 FETCH (MODSEQ (3))\r\n"
        wire.close()
    with MailServer(db=db) as server:
        wire = session(server, b"CONDSTORE")
        assert wire.command(b"f FETCH 1 (FLAGS MODSEQ)") == (
            b"* 1 FETCH (FLAGS (\\Seen) MODSEQ (3))\r\nf OK FETCH completed\r\n"
        )
        wire.close()


@pytest.mark.parametrize("items", [b"(FLAGS)", b"(BODY.PEEK[TEXT])"])
@pytest.mark.parametrize("chunk", [2, 3, 1000])
def test_fetch_changedsince_finds_every_change_whatever_the_chunk(mail, monkeypatch, chunk, items):
    # The store reads at most CHUNK changed messages per trip (bodies: a smaller budget too);
    # what comes after the last row read must still be found.
    monkeypatch.setattr(fetch_command, "CHUNK", chunk)
    monkeypatch.setattr(fetch_command, "CHUNK_WITH_BODIES", 2)
    deliver(mail, 10)  # modseqs 2..11
    wire = session(mail, b"CONDSTORE")
    wire.command(b"t STORE 2,3,5,6,7,9,10 +FLAGS.SILENT (\\Flagged)")  # now at 12
    answer = wire.responses(b"f FETCH 1:* " + items + b" (CHANGEDSINCE 11)")
    assert [line.split(b" FETCH ")[0] for line in answer[:-1]] == [
        b"* %d" % seq for seq in (2, 3, 5, 6, 7, 9, 10)
    ]
    assert all(b"MODSEQ (12)" in line for line in answer[:-1])
    assert answer[-1] == b"f OK FETCH completed\r\n"
    everything = wire.responses(b"g UID FETCH 1:* (UID) (CHANGEDSINCE 0)")
    assert len(everything) == 11 and everything[0] == b"* 1 FETCH (UID 1 MODSEQ (2))\r\n"
