"""QRESYNC (RFC 7162 §3.2) over the wire, byte for byte as the reference Dovecot answers: ENABLE
QRESYNC, SELECT's QRESYNC parameter with VANISHED (EARLIER) and the changed messages, UID FETCH's
VANISHED modifier, live VANISHED instead of EXPUNGE, CLOSED on reselect, and a restart of a file
database in between. A new INBOX is at mod-sequence 1 and each delivery takes the next one."""

from __future__ import annotations

import re

import pytest

from elektromail.store import modseq
from elektromail.testing import MailServer
from tests.imap.wire import ImapWire


def deliver(mail: MailServer, count: int) -> None:
    for i in range(count):
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: %d\r\n\r\nbody\r\n" % i)


def qresync_session(mail: MailServer, select: bytes | None = b"SELECT INBOX") -> ImapWire:
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")  # no \Recent in the lines below
    assert wire.command(b"q ENABLE QRESYNC") == b"* ENABLED QRESYNC\r\nq OK ENABLE completed\r\n"
    if select:
        wire.command(b"s " + select)
    return wire


def uidvalidity(wire: ImapWire) -> int:
    answer = wire.command(b"v STATUS INBOX (UIDVALIDITY)")
    return int(re.search(rb"UIDVALIDITY (\d+)", answer).group(1))


def expunge_elsewhere(mail: MailServer, *uids: int) -> None:
    for uid in uids:
        mail.call(mail.server.postoffice.delete_message, "user", "INBOX", uid)


def test_qresync_is_advertised_and_implies_condstore(mail):
    deliver(mail, 1)
    wire = qresync_session(mail, select=None)
    assert b" QRESYNC" in wire.command(b"c CAPABILITY").split(b"\r\n")[0]
    # CONDSTORE came with it: HIGHESTMODSEQ in SELECT, nothing new from ENABLE CONDSTORE
    assert b"* OK [HIGHESTMODSEQ 2] Highest\r\n" in wire.responses(b"s SELECT INBOX")
    assert wire.command(b"e ENABLE CONDSTORE") == b"* ENABLED\r\ne OK ENABLE completed\r\n"


def test_select_qresync_sends_vanished_earlier_and_the_changed_messages(mail):
    # RFC 7162 §3.2.5.1: "* VANISHED (EARLIER) 41,43:116,..." then "* 49 FETCH (UID 117 FLAGS
    # (\Seen \Answered) MODSEQ (...))", after the SELECT responses
    deliver(mail, 6)  # modseqs 2..7
    wire = qresync_session(mail)
    known = uidvalidity(wire)
    wire.command(b"u UNSELECT")
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 2, ["\\Flagged"])  # 8
    expunge_elsewhere(mail, 3, 5)  # 9, 10
    lines = wire.responses(b"s SELECT INBOX (QRESYNC (%d 7))" % known)
    assert lines[-4:] == [
        b"* OK [HIGHESTMODSEQ 10] Highest\r\n",
        b"* VANISHED (EARLIER) 3,5\r\n",
        b"* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (8))\r\n",
        b"s OK [READ-WRITE] SELECT completed\r\n",
    ]
    # only the known UIDs; the mod-sequence before the flag change gets it, after it not
    lines = wire.responses(b"t SELECT INBOX (QRESYNC (%d 8 4:9))" % known)
    assert lines[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"
    assert lines[-3:] == [
        b"* OK [HIGHESTMODSEQ 10] Highest\r\n",
        b"* VANISHED (EARLIER) 5\r\n",
        b"t OK [READ-WRITE] SELECT completed\r\n",
    ]
    # the sequence match data is checked and changes nothing: every expunge is remembered
    lines = wire.responses(b"w EXAMINE INBOX (QRESYNC (%d 1 1:6 (1:3 1,2,4)))" % known)
    assert lines[-7:] == [
        b"* OK [HIGHESTMODSEQ 10] Highest\r\n",
        b"* VANISHED (EARLIER) 3,5\r\n",
        b"* 1 FETCH (UID 1 FLAGS () MODSEQ (2))\r\n",
        b"* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (8))\r\n",
        b"* 3 FETCH (UID 4 FLAGS () MODSEQ (5))\r\n",
        b"* 4 FETCH (UID 6 FLAGS () MODSEQ (7))\r\n",
        b"w OK [READ-ONLY] EXAMINE completed\r\n",
    ]


def test_select_qresync_with_another_uidvalidity_resyncs_nothing(mail):
    # RFC 7162 §3.2.5: "If the provided UIDVALIDITY doesn't match ... the server MUST ignore
    # the remaining parameters and behave as if no dynamic message data changed"
    deliver(mail, 3)
    expunge_elsewhere(mail, 1)
    wire = qresync_session(mail, select=None)
    lines = wire.responses(b"s SELECT INBOX (QRESYNC (1 1))")
    assert lines[-2:] == [
        b"* OK [HIGHESTMODSEQ 5] Highest\r\n",
        b"s OK [READ-WRITE] SELECT completed\r\n",
    ]


@pytest.mark.parametrize(
    "parameter",
    [b"(QRESYNC (1))", b"(QRESYNC (0 5))", b"(QRESYNC (1 0))", b"(QRESYNC (x 5))",
     b"(QRESYNC (1 5 abc))", b"(QRESYNC (1 5 1:4 (1:3)))", b"(QRESYNC (1 5 1:4 (1:3 1,2)))",
     b"(QRESYNC (1 5 1:4 (1:3 1:3) 9))", b"(QRESYNC)", b"(QRESYNC 5)", b"(QRESYNC (1 5 $))",
     b"(QRESYNC (1 9223372036854775808))", b"(QRESYNC (1 5) QRESYNC (1 5))"],
)  # fmt: skip
def test_select_refuses_a_malformed_qresync_parameter(mail, parameter):
    wire = qresync_session(mail, select=None)
    assert wire.responses(b"s SELECT INBOX " + parameter)[-1].startswith(b"s BAD ")
    assert wire.command(b"n NOOP") == b"n OK NOOP completed\r\n"


def test_select_qresync_without_enable_qresync_is_bad(mail):
    # RFC 7162 §3.2.5: "A server MUST respond with a tagged BAD response if the Quick
    # Resynchronization parameter ... is specified and the client hasn't issued "ENABLE
    # QRESYNC"" (Dovecot: "QRESYNC not enabled")
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"e ENABLE CONDSTORE")
    assert wire.command(b"s SELECT INBOX (QRESYNC (1 1))") == b"s BAD QRESYNC not enabled\r\n"


def test_uid_fetch_vanished_reports_the_expunged_uids_of_the_set(mail):
    # RFC 7162 §3.2.6: "* VANISHED (EARLIER) 300:310,405,411" before the FETCH responses
    deliver(mail, 5)  # 2..6
    wire = qresync_session(mail)
    wire.command(b"t STORE 4 +FLAGS.SILENT (\\Seen)")  # 7
    expunge_elsewhere(mail, 2, 5)  # 8, 9
    wire.command(b"n NOOP")
    assert wire.command(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)") == (
        b"* VANISHED (EARLIER) 2,5\r\n"
        b"* 3 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (7))\r\n"
        b"f OK UID FETCH completed\r\n"
    )
    assert wire.command(b"g UID FETCH 3:4 (FLAGS) (CHANGEDSINCE 7 VANISHED)") == (
        b"g OK UID FETCH completed\r\n"
    )


@pytest.mark.parametrize(
    "command",
    [b"FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", b"UID FETCH 1:* (FLAGS) (VANISHED)",
     b"UID FETCH 1:* (FLAGS) (VANISHED VANISHED CHANGEDSINCE 1)"],
)  # fmt: skip
def test_vanished_is_refused_outside_uid_fetch_with_changedsince(mail, command):
    deliver(mail, 1)
    wire = qresync_session(mail)
    assert wire.responses(b"f " + command)[-1].startswith(b"f BAD ")


def test_vanished_needs_enable_qresync(mail):
    deliver(mail, 1)
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"s SELECT INBOX (CONDSTORE)")
    answer = wire.command(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert answer == b"f BAD VANISHED needs ENABLE QRESYNC\r\n"


def test_expunges_are_reported_as_vanished_with_the_new_highestmodseq(mail):
    # RFC 7162 §3.2.7: "S: * VANISHED 405,407,410,425  S: B202 OK [HIGHESTMODSEQ ...]"
    deliver(mail, 4)  # 2..5
    wire = qresync_session(mail)
    wire.command(b"t STORE 1,3 +FLAGS.SILENT (\\Deleted)")  # 6
    assert wire.command(b"x EXPUNGE") == (
        b"* VANISHED 1,3\r\nx OK [HIGHESTMODSEQ 7] EXPUNGE completed\r\n"
    )
    assert wire.command(b"y UID EXPUNGE 1:*") == b"y OK UID EXPUNGE completed\r\n"


def test_another_session_s_expunge_arrives_as_vanished(mail):
    # RFC 7162 §3.2.10.2: VANISHED "for all mailboxes ... as well as messages expunged in
    # other connections"; the FETCH of a change there carries the UID (§3.2.4)
    deliver(mail, 3)
    wire = qresync_session(mail)
    expunge_elsewhere(mail, 2)
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 3, ["\\Seen"])
    assert wire.command(b"n NOOP") == (
        b"* VANISHED 2\r\n* 2 FETCH (UID 3 MODSEQ (6) FLAGS (\\Seen))\r\nn OK NOOP completed\r\n"
    )


def test_a_rev1_qresync_session_gets_uids_in_every_fetch(mail):
    deliver(mail, 2)
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"q ENABLE QRESYNC")
    wire.command(b"s SELECT INBOX")
    assert wire.command(b"t STORE 2 +FLAGS (\\Seen)") == (
        b"* 2 FETCH (UID 2 MODSEQ (4) FLAGS (\\Seen \\Recent))\r\nt OK STORE completed\r\n"
    )


def test_reselecting_in_a_rev1_qresync_session_sends_closed(mail):
    # RFC 7162 §3.2.11
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"q ENABLE QRESYNC")
    wire.command(b"s SELECT INBOX")
    assert wire.responses(b"t EXAMINE INBOX")[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"


def test_a_resync_across_a_restart_of_a_file_database(tmp_path):
    # the mod-sequences and the expunged UIDs are stored: a client away while the server
    # restarted resyncs as if it had not
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        deliver(mail, 4)  # 2..5
        wire = qresync_session(mail)
        known = uidvalidity(wire)
        wire.close()
        mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 4, ["\\Answered"])  # 6
        expunge_elsewhere(mail, 1)  # 7
    with MailServer(db=db) as mail:
        wire = qresync_session(mail, select=None)
        lines = wire.responses(b"s SELECT INBOX (QRESYNC (%d 5))" % known)
        assert lines[-4:] == [
            b"* OK [HIGHESTMODSEQ 7] Highest\r\n",
            b"* VANISHED (EARLIER) 1\r\n",
            b"* 3 FETCH (UID 4 FLAGS (\\Answered) MODSEQ (6))\r\n",
            b"s OK [READ-WRITE] SELECT completed\r\n",
        ]
        wire.close()


def test_move_reports_vanished_and_the_new_highestmodseq(mail):
    # RFC 6851 §4.4: "If at least one message was moved, the server MUST send the updated
    # per-mailbox modification sequence using the HIGHESTMODSEQ response code"
    deliver(mail, 2)  # 2, 3
    wire = qresync_session(mail)
    wire.command(b"c CREATE Archive")
    lines = wire.responses(b"m UID MOVE 1 Archive")
    assert lines[0].startswith(b"* OK [COPYUID ")
    assert lines[1:] == [b"* VANISHED 1\r\n", b"m OK [HIGHESTMODSEQ 4] UID MOVE completed\r\n"]


def test_a_resync_from_before_the_expunges_kept_reports_every_uid_that_is_gone(mail, monkeypatch):
    # The server keeps a bounded history of expunges (store/modseq.py, as Dovecot's log
    # rotates). RFC 7162 §3.2.6: "A server that receives a mod-sequence smaller than
    # <minmodseq> ... MUST behave as if it was requested to report all expunged messages from
    # the provided UID set parameter": every UID of the set below UIDNEXT that is not there.
    monkeypatch.setattr(modseq, "EXPUNGES_KEPT", 2)
    monkeypatch.setattr(modseq, "EXPUNGES_SLACK", 1)
    deliver(mail, 10)  # 2..11
    wire = qresync_session(mail)
    known = uidvalidity(wire)
    wire.command(b"u UNSELECT")
    expunge_elsewhere(mail, *range(1, 9))  # 12..19; 7 and 8 kept, the rest forgotten (17)
    lines = wire.responses(b"s SELECT INBOX (QRESYNC (%d 11))" % known)
    assert lines[-3:] == [
        b"* OK [HIGHESTMODSEQ 19] Highest\r\n",
        b"* VANISHED (EARLIER) 1:8\r\n",
        b"s OK [READ-WRITE] SELECT completed\r\n",
    ]
    # the known UIDs limit the report, and UIDs never given out are not in it
    lines = wire.responses(b"t SELECT INBOX (QRESYNC (%d 11 5:100))" % known)
    assert lines[-2] == b"* VANISHED (EARLIER) 5:8\r\n"
    assert wire.command(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 16 VANISHED)") == (
        b"* VANISHED (EARLIER) 1:8\r\nf OK UID FETCH completed\r\n"
    )
    # from the floor on, the history kept is complete: only what came after
    assert wire.command(b"g UID FETCH 1:* (FLAGS) (CHANGEDSINCE 17 VANISHED)") == (
        b"* VANISHED (EARLIER) 7:8\r\ng OK UID FETCH completed\r\n"
    )
    assert wire.command(b"h UID FETCH 2:6,10 (FLAGS) (CHANGEDSINCE 3 VANISHED)") == (
        b"* VANISHED (EARLIER) 2:6\r\n"
        b"* 2 FETCH (UID 10 FLAGS () MODSEQ (11))\r\n"
        b"h OK UID FETCH completed\r\n"
    )


def test_the_sequence_match_data_narrows_a_resync_from_before_the_expunges_kept(mail, monkeypatch):
    # RFC 7162 §3.2.5.2: "If a pair matches, then the client knows of any expunges up to, and
    # including, the message; thus, it will not include that range in the VANISHED response,
    # even if the "mod-sequence-value" provided by the client is too old"
    monkeypatch.setattr(modseq, "EXPUNGES_KEPT", 2)
    monkeypatch.setattr(modseq, "EXPUNGES_SLACK", 1)
    deliver(mail, 12)  # 2..13
    wire = qresync_session(mail)
    known = uidvalidity(wire)
    wire.command(b"u UNSELECT")
    expunge_elsewhere(mail, 1, 2, 5, 6, 9, 10)  # left: 3 4 7 8 11 12 as 1..6
    select = b"s SELECT INBOX (QRESYNC (%d 13 1:12 (%s %s)))"
    # 2 is UID 4 and 4 is UID 8: the client knows of every expunge up to UID 8
    lines = wire.responses(select % (known, b"2,4", b"4,8"))
    assert lines[-2] == b"* VANISHED (EARLIER) 9:10\r\n"
    # the first pair matches (UID 3 is 1), the second does not (5 is UID 11, not 9): from 4 on
    lines = wire.responses(select % (known, b"1,5", b"3,9"))
    assert lines[-2] == b"* VANISHED (EARLIER) 5:6,9:10\r\n"
    # no pair matches, or a sequence number past the end: everything gone is reported
    for seqs, uids in ((b"1", b"1"), (b"9", b"12")):
        lines = wire.responses(select % (known, seqs, uids))
        assert lines[-2] == b"* VANISHED (EARLIER) 1:2,5:6,9:10\r\n"


@pytest.mark.parametrize("namespace", [None, "team"], ids=["default", "namespace"])
def test_a_resync_after_a_purge_reports_every_uid_that_went(mail, namespace):
    # a purge empties whole mailboxes without remembering each UID: it takes a mod-sequence
    # and forgets the history up to it, so a client from before is told of every UID gone
    postoffice = mail.server.postoffice
    user = "user"
    if namespace:
        _made, token = mail.call(postoffice.create_namespace, namespace)
        user = f"bob@{namespace}"
        mail.call(postoffice.deliver, [f"bob@{namespace}.ns.localhost"], b"Subject: a\r\n\r\n")
        mail.call(postoffice.deliver, [f"bob@{namespace}.ns.localhost"], b"Subject: b\r\n\r\n")
        wire = ImapWire(mail.imap_port)
        wire.login(user, token)
    else:
        deliver(mail, 2)
        wire = ImapWire(mail.imap_port)
        wire.login()
    wire.command(b"q ENABLE QRESYNC")
    answer = wire.command(b"s SELECT INBOX")
    known = int(re.search(rb"UIDVALIDITY (\d+)", answer).group(1))
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", answer).group(1))
    wire.command(b"u UNSELECT")
    assert mail.call(postoffice.purge, namespace) == 2
    lines = wire.responses(b"s SELECT INBOX (QRESYNC (%d %d))" % (known, highest))
    assert b"* 0 EXISTS\r\n" in lines
    assert lines[-2:] == [
        b"* VANISHED (EARLIER) 1:2\r\n",
        b"s OK [READ-WRITE] SELECT completed\r\n",
    ]
    wire.close()
