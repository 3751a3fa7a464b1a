"""SORT, ESORT and ESEARCH with CONDSTORE's MODSEQ search key (RFC 7162 §3.1.9, §3.1.10, RFC
4731 §3.2) over the wire, byte for byte as the reference Dovecot answers the same mailbox: five
messages sorted by date 5 4 3 2 1, at mod-sequences 10 8 12 9 11 (messages 1 to 5)."""

from __future__ import annotations

import pytest

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire


def deliver_five(mail: MailServer) -> None:
    """Messages 1..5 dated 9..5 January (SORT (DATE) gives 5 4 3 2 1), at mod-sequences 2..6."""
    for i in range(5):
        message = b"Date: Mon, 0%d Jan 2024 10:00:00 +0000\r\nSubject: m%d\r\n\r\nbody\r\n" % (
            9 - i,
            i,
        )
        mail.call(mail.server.postoffice.deliver, ["user@x"], message)


def change_flags(wire: ImapWire) -> None:
    """All at 7, then 2 -> 8, 4 -> 9, 1 -> 10, 5 -> 11, 3 -> 12 (the order Dovecot was given)."""
    wire.command(b"f0 STORE 1:* +FLAGS.SILENT ($Z)")
    for number, flag in [(2, b"\\Flagged"), (4, b"\\Flagged"), (1, b"$A"), (5, b"$B"), (3, b"$C")]:
        wire.command(b"f STORE %d +FLAGS.SILENT (%s)" % (number, flag))


@pytest.fixture
def wire(mail):
    deliver_five(mail)
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"e ENABLE CONDSTORE")
    wire.command(b"s SELECT INBOX")
    change_flags(wire)
    assert wire.command(b"m FETCH 1:* (MODSEQ)") == (
        b"* 1 FETCH (MODSEQ (10))\r\n* 2 FETCH (MODSEQ (8))\r\n* 3 FETCH (MODSEQ (12))\r\n"
        b"* 4 FETCH (MODSEQ (9))\r\n* 5 FETCH (MODSEQ (11))\r\nm OK FETCH completed\r\n"
    )
    yield wire
    wire.close()


def untagged(wire: ImapWire, line: bytes) -> list[bytes]:
    responses = wire.responses(line)
    assert responses[-1].startswith(line.split(b" ", 1)[0] + b" OK"), responses
    return responses[:-1]


def esearch_line(tag: bytes, answer: bytes) -> bytes:
    """`* ESEARCH (TAG "t") <answer>` with its CRLF; no trailing space when `answer` is empty."""
    return b'* ESEARCH (TAG "%s")' % tag + (b" " + answer if answer else b"") + b"\r\n"


# RFC 7162 §3.1.9: "If a client specifies a MODSEQ criterion in a SORT (or UID SORT) command and
# the server returns a non-empty SORT result, the server MUST also append (to the end of the
# untagged SORT response) the highest mod-sequence for all messages being returned."
SORTS = [
    (b"SORT (DATE) UTF-8 MODSEQ 1", b"* SORT 5 4 3 2 1 (MODSEQ 12)"),
    (b"UID SORT (DATE) UTF-8 MODSEQ 1", b"* SORT 5 4 3 2 1 (MODSEQ 12)"),
    (b"SORT (SUBJECT) UTF-8 MODSEQ 7", b"* SORT 1 2 3 4 5 (MODSEQ 12)"),
    (b"SORT (DATE) UTF-8 UID 2:4 MODSEQ 1", b"* SORT 4 3 2 (MODSEQ 12)"),
    (b"SORT (DATE) UTF-8 UID 4:5 MODSEQ 1", b"* SORT 5 4 (MODSEQ 11)"),
    (b"SORT (DATE) UTF-8 OR MODSEQ 7 UID 1", b"* SORT 5 4 3 2 1 (MODSEQ 12)"),
    (b'SORT (DATE) UTF-8 MODSEQ "/flags/\\\\flagged" all 1', b"* SORT 5 4 3 2 1 (MODSEQ 12)"),
    (b"SORT (DATE) UTF-8 MODSEQ 100", b"* SORT"),  # "(omitted if no match)"
    (b"SORT (DATE) UTF-8 NOT MODSEQ 7", b"* SORT"),
]

# §3.1.10: "If a client specifies a MODSEQ criterion in an extended SORT (or extended UID SORT)
# [RFC5267] command and the server returns a non-empty SORT result, the server MUST return the
# ESEARCH response containing the MODSEQ result option defined in Section 3.2 of [RFC4731]."
# RFC 4731 §3.2: "If the SEARCH/UID SEARCH command contained a single MIN or MAX result option,
# the MODSEQ result option contains the mod-sequence for the found message.  If [it] contained
# both MIN and MAX result options and no ALL/COUNT option, the MODSEQ result option contains the
# highest mod-sequence for the two returned messages.  Otherwise the MODSEQ result option
# contains the highest mod-sequence for all messages being returned."  ESORT's MIN and MAX are
# the first and the last in sort order (RFC 5267 §3.1); PARTIAL returns only its range.
ESORTS = [
    (b"SORT RETURN (ALL) (DATE) UTF-8 MODSEQ 1", b"ALL 5,4,3,2,1 MODSEQ 12"),
    (b"SORT RETURN () (DATE) UTF-8 MODSEQ 1", b"ALL 5,4,3,2,1 MODSEQ 12"),
    (b"SORT RETURN (MIN) (DATE) UTF-8 MODSEQ 1", b"MIN 5 MODSEQ 11"),
    (b"SORT RETURN (MAX) (DATE) UTF-8 MODSEQ 1", b"MAX 1 MODSEQ 10"),
    (b"SORT RETURN (MIN) (REVERSE DATE) UTF-8 MODSEQ 1", b"MIN 1 MODSEQ 10"),
    (b"SORT RETURN (MIN MAX) (DATE) UTF-8 MODSEQ 1", b"MIN 5 MAX 1 MODSEQ 11"),
    (b"SORT RETURN (MIN COUNT) (DATE) UTF-8 MODSEQ 1", b"MIN 5 COUNT 5 MODSEQ 12"),
    (b"SORT RETURN (MAX ALL) (DATE) UTF-8 MODSEQ 1", b"MAX 1 ALL 5,4,3,2,1 MODSEQ 12"),
    (b"SORT RETURN (COUNT) (DATE) UTF-8 MODSEQ 1", b"COUNT 5 MODSEQ 12"),
    (b"SORT RETURN (PARTIAL 1:2) (DATE) UTF-8 MODSEQ 1", b"PARTIAL (1:2 5,4) MODSEQ 11"),
    (
        b"SORT RETURN (PARTIAL 2:3 COUNT) (DATE) UTF-8 MODSEQ 1",
        b"COUNT 5 PARTIAL (2:3 4,3) MODSEQ 12",
    ),
    (b"SORT RETURN (PARTIAL 7:9) (DATE) UTF-8 MODSEQ 1", b"PARTIAL (7:9 NIL)"),
    (b"SORT RETURN (SAVE MIN) (DATE) UTF-8 MODSEQ 1", b"MIN 5 MODSEQ 11"),
    (b"SORT RETURN (SAVE MIN MAX) (DATE) UTF-8 MODSEQ 1", b"MIN 5 MAX 1 MODSEQ 11"),
    # RETURN (SAVE) alone answers nothing (RFC 5182 §2.1), but with MODSEQ Dovecot reports it
    (b"SORT RETURN (SAVE) (DATE) UTF-8 MODSEQ 1", b"MODSEQ 12"),
    (b"SORT RETURN (ALL) (DATE) UTF-8 MODSEQ 100", b""),
    (b"SORT RETURN (COUNT) (DATE) UTF-8 MODSEQ 100", b"COUNT 0"),
    (b"SORT RETURN (SAVE) (DATE) UTF-8 MODSEQ 100", b""),
]


@pytest.mark.parametrize(("command", "answer"), SORTS, ids=[c.decode() for c, _ in SORTS])
def test_sort_with_modseq_appends_the_highest_modseq_returned(wire, command, answer):
    assert untagged(wire, b"t " + command) == [answer + b"\r\n"]


@pytest.mark.parametrize(("command", "answer"), ESORTS, ids=[c.decode() for c, _ in ESORTS])
def test_esort_with_modseq_returns_the_modseq_result_option(wire, command, answer):
    assert untagged(wire, b"t " + command) == [esearch_line(b"t", answer)]


def test_uid_esort_with_modseq(wire):
    assert untagged(wire, b"t UID SORT RETURN (MIN) (DATE) UTF-8 MODSEQ 1") == [
        b'* ESEARCH (TAG "t") UID MIN 5 MODSEQ 11\r\n'
    ]
    assert untagged(wire, b"u UID SORT RETURN (ALL COUNT) (DATE) UTF-8 MODSEQ 1") == [
        b'* ESEARCH (TAG "u") UID COUNT 5 ALL 5,4,3,2,1 MODSEQ 12\r\n'
    ]


def test_sort_return_save_with_modseq_still_saves(wire):
    # RFC 5182 §2.1: SAVE with MIN and MAX keeps those two messages in $
    untagged(wire, b"t SORT RETURN (SAVE MIN MAX) (DATE) UTF-8 MODSEQ 1")
    assert untagged(wire, b"f FETCH $ (UID)") == [
        b"* 1 FETCH (UID 1)\r\n",
        b"* 5 FETCH (UID 5)\r\n",
    ]


def test_sort_without_modseq_reports_none_in_a_condstore_session(wire):
    assert untagged(wire, b"t SORT (DATE) UTF-8 ALL") == [b"* SORT 5 4 3 2 1\r\n"]
    assert untagged(wire, b"u SORT RETURN (MIN) (DATE) UTF-8 ALL") == [
        b'* ESEARCH (TAG "u") MIN 5\r\n'
    ]
    assert untagged(wire, b"v SORT RETURN (SAVE) (DATE) UTF-8 ALL") == []


def test_thread_with_modseq_is_unchanged(wire):
    # §3.1.9: "THREAD responses are unchanged by the CONDSTORE extension"
    assert untagged(wire, b"t THREAD REFERENCES UTF-8 MODSEQ 1") == [
        b"* THREAD (5)(4)(3)(2)(1)\r\n"
    ]


def test_a_first_sort_with_modseq_enables_condstore(mail):
    # RFC 7162 §3.1: "A first CONDSTORE enabling command executed in the session with a mailbox
    # selected MUST cause the server to return HIGHESTMODSEQ"; Dovecot counts SORT's MODSEQ.
    deliver_five(mail)
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")
    wire.command(b"s SELECT INBOX")
    assert untagged(wire, b"t SORT (DATE) UTF-8 MODSEQ 5") == [
        b"* OK [HIGHESTMODSEQ 6] Highest\r\n",
        b"* SORT 5 4 (MODSEQ 6)\r\n",
    ]
    # now CONDSTORE-aware: a change elsewhere comes with its MODSEQ
    mail.call(mail.server.postoffice.change_flags, "user", "INBOX", 1, ["\\Flagged"])
    assert wire.command(b"n NOOP") == (
        b"* 1 FETCH (UID 1 MODSEQ (7) FLAGS (\\Flagged))\r\nn OK NOOP completed\r\n"
    )


def test_sort_with_modseq_in_imap4rev2_answers_sort(mail):
    # RFC 5267 §3.2: SORT without RETURN answers SORT in either dialect, MODSEQ appended
    deliver_five(mail)
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"r ENABLE IMAP4rev2")
    wire.command(b"s SELECT INBOX (CONDSTORE)")
    assert untagged(wire, b"t UID SORT (SUBJECT) UTF-8 MODSEQ 4") == [
        b"* SORT 3 4 5 (MODSEQ 6)\r\n"
    ]


@pytest.mark.parametrize(
    "key",
    [b"MODSEQ x", b"MODSEQ", b'MODSEQ "/flags/\\\\seen" foo 1', b"MODSEQ 9223372036854775808"],
)
def test_sort_refuses_a_bad_modseq_key(wire, key):
    assert wire.responses(b"t SORT (DATE) UTF-8 " + key)[-1].startswith(b"t BAD ")
    assert untagged(wire, b"u SORT (DATE) UTF-8 MODSEQ 12") == [b"* SORT 3 (MODSEQ 12)\r\n"]


def test_sort_with_modseq_after_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        deliver_five(server)
        server.call(server.server.postoffice.change_flags, "user", "INBOX", 4, ["\\Seen"])
    with MailServer(db=db) as server:
        wire = ImapWire(server.imap_port)
        wire.login()
        wire.command(b"s SELECT INBOX (CONDSTORE)")
        assert untagged(wire, b"t SORT (DATE) UTF-8 MODSEQ 6") == [b"* SORT 5 4 (MODSEQ 7)\r\n"]
        wire.close()


# The same rules for ESEARCH (RFC 4731 §3.2) where Dovecot answered otherwise before.
ESEARCHES = [
    (b"SEARCH RETURN (SAVE) MODSEQ 1", b"MODSEQ 12"),
    (b"SEARCH RETURN (SAVE) MODSEQ 100", b""),
    (b"SEARCH RETURN (PARTIAL 1:2) MODSEQ 1", b"PARTIAL (1:2 1:2) MODSEQ 10"),
    (b"SEARCH RETURN (COUNT PARTIAL 1:2) MODSEQ 1", b"COUNT 5 PARTIAL (1:2 1:2) MODSEQ 10"),
    (b"SEARCH RETURN (PARTIAL 7:9) MODSEQ 1", b"PARTIAL (7:9 NIL)"),
    (b"SEARCH RETURN (SAVE MAX) MODSEQ 1", b"MAX 5 MODSEQ 11"),
]


@pytest.mark.parametrize(("command", "answer"), ESEARCHES, ids=[c.decode() for c, _ in ESEARCHES])
def test_esearch_with_modseq_reports_what_it_returns(wire, command, answer):
    assert untagged(wire, b"t " + command) == [esearch_line(b"t", answer)]


def test_uid_search_return_save_with_modseq(wire):
    assert untagged(wire, b"t UID SEARCH RETURN (SAVE) MODSEQ 11") == [
        b'* ESEARCH (TAG "t") UID MODSEQ 12\r\n'
    ]
    assert untagged(wire, b"f FETCH $ (UID)") == [
        b"* 3 FETCH (UID 3)\r\n",
        b"* 5 FETCH (UID 5)\r\n",
    ]
