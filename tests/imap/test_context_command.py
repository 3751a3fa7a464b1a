"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4) over real sockets: PARTIAL results, UPDATE
contexts with ADDTO and REMOVEFROM as messages arrive, change and go (this session's changes
and another's), CANCELUPDATE, NOUPDATE, and bad input."""

from __future__ import annotations

import imaplib
import smtplib

import pytest

from elektromail.testing import MailServer
from tests.imap.test_sort_command import deliver_all

SEVEN = [(b"Subject: m%d\r\n\r\nbody %d\r\n" % (n, n), 1_773_000_000.0 + n) for n in range(7)]


@pytest.fixture
def mail():
    with MailServer() as server:
        deliver_all(server, SEVEN)
        yield server


def login(mail: MailServer, *, rev2: bool = False, select: bool = True) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    if rev2:
        send(client, b"ENABLE IMAP4rev2")
    if select:
        send(client, b"SELECT INBOX")
    return client


def send(client: imaplib.IMAP4, command: bytes, tag: bytes | None = None) -> list[bytes]:
    """Every line of the answer, the tagged one last (its tag replaced by "TAG")."""
    tag = tag or client._new_tag()
    client.send(tag + b" " + command + b"\r\n")
    lines = []
    while True:
        line = client.readline().rstrip(b"\r\n")
        if line.startswith(tag + b" "):
            return [*lines, b"TAG " + line[len(tag) + 1 :]]
        lines.append(line)


def ok(client: imaplib.IMAP4, command: bytes, tag: bytes | None = None) -> list[bytes]:
    lines = send(client, command, tag)
    assert lines[-1].startswith(b"TAG OK"), lines
    return lines[:-1]


def esearch(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith(b"* ESEARCH")]


def test_capabilities_name_both_contexts(mail):
    client = login(mail, select=False)
    (caps,) = [line for line in ok(client, b"CAPABILITY") if line.startswith(b"* CAPABILITY")]
    assert b" CONTEXT=SEARCH " in caps and b" CONTEXT=SORT " in caps


# --- PARTIAL (RFC 5267 §4.4) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "criteria", "expected"),
    [
        # "The first result is 1"
        (b"PARTIAL 1:1", b"ALL", b"PARTIAL (1:1 1)"),
        (b"PARTIAL 2:4", b"ALL", b"PARTIAL (2:4 2:4)"),
        # a range given high to low means the same positions (as Dovecot)
        (b"PARTIAL 4:2", b"ALL", b"PARTIAL (2:4 2:4)"),
        # "a range which starts or ends higher than the current number of results": what is
        # in the set, and the original range
        (b"PARTIAL 5:100", b"ALL", b"PARTIAL (5:100 5:7)"),
        (b"PARTIAL 8:9", b"ALL", b"PARTIAL (8:9 NIL)"),
        # positions in the result, not message numbers
        (b"PARTIAL 2:3", b"1:2,4:5", b"PARTIAL (2:3 2,4)"),
        (b"PARTIAL 1:2 COUNT", b"3:*", b"COUNT 5 PARTIAL (1:2 3:4)"),
        (b"PARTIAL 1:5", b"SUBJECT nothing", b"PARTIAL (1:5 NIL)"),
    ],
)
def test_search_partial(mail, options, criteria, expected):
    client = login(mail)
    lines = ok(client, b"SEARCH RETURN (" + options + b") " + criteria, b"P1")
    assert esearch(lines) == [b'* ESEARCH (TAG "P1") ' + expected]


def test_uid_search_partial_gives_uids_and_follows_expunges(mail):
    client = login(mail)
    ok(client, b"STORE 2 +FLAGS (\\Deleted)")
    ok(client, b"EXPUNGE")
    lines = ok(client, b"UID SEARCH RETURN (PARTIAL 2:3) ALL", b"P2")
    assert esearch(lines) == [b'* ESEARCH (TAG "P2") UID PARTIAL (2:3 3:4)']


def test_sort_partial_keeps_the_sort_order(mail):
    client = login(mail)
    lines = ok(client, b"SORT RETURN (PARTIAL 2:4) (REVERSE ARRIVAL) US-ASCII ALL", b"S1")
    # reverse arrival is 7 6 5 4 3 2 1: positions 2-4 are 6 5 4, written in that order
    assert esearch(lines) == [b'* ESEARCH (TAG "S1") PARTIAL (2:4 6,5,4)']
    lines = ok(client, b"UID SORT RETURN (PARTIAL 6:9 MIN) (ARRIVAL) US-ASCII ALL", b"S2")
    assert esearch(lines) == [b'* ESEARCH (TAG "S2") UID MIN 1 PARTIAL (6:9 6:7)']


def test_context_alone_is_a_hint_and_answers_all(mail):
    # §4.2: "Servers MAY ignore this return option"; with nothing else RETURN answers ALL
    client = login(mail)
    assert esearch(ok(client, b"SEARCH RETURN (CONTEXT) 1:3", b"C1")) == [
        b'* ESEARCH (TAG "C1") ALL 1:3'
    ]
    assert esearch(ok(client, b"SEARCH RETURN (CONTEXT COUNT) ALL", b"C2")) == [
        b'* ESEARCH (TAG "C2") COUNT 7'
    ]


@pytest.mark.parametrize(
    "options",
    [
        b"PARTIAL",
        b"PARTIAL 1",
        b"PARTIAL 1:*",
        b"PARTIAL *:1",
        b"PARTIAL 0:3",
        b"PARTIAL 1:4294967296",
        b"PARTIAL -1:3",
        b"PARTIAL 1:2,4",
        b"PARTIAL (1:2)",
        # "either one PARTIAL, one ALL, or neither PARTIAL nor ALL is allowed"
        b"PARTIAL 1:2 ALL",
        b"PARTIAL 1:2 PARTIAL 3:4",
        b"UPDATE UPDATE",
    ],
)
def test_bad_return_options_are_bad(mail, options):
    client = login(mail)
    for command in (b"SEARCH RETURN (%b) ALL", b"SORT RETURN (%b) (ARRIVAL) UTF-8 ALL"):
        lines = send(client, command % options)
        assert lines[-1].startswith(b"TAG BAD") and esearch(lines) == [], lines
    assert ok(client, b"NOOP") == []  # no update context was left behind


# --- UPDATE (RFC 5267 §4.3) -------------------------------------------------------------------


def test_update_reports_this_sessions_flag_changes_and_expunges(mail):
    client = login(mail)
    lines = ok(client, b"SEARCH RETURN (UPDATE) SEEN", b"U1")
    assert esearch(lines) == [b'* ESEARCH (TAG "U1")']  # UPDATE alone returns no data
    # §4.3.2: "emit ADDTO when they normally emit the causal FETCH"
    lines = ok(client, b"STORE 1,2,4 +FLAGS (\\Seen)")
    assert lines[-1] == b'* ESEARCH (TAG "U1") ADDTO (0 1:2,4)'
    assert ok(client, b"STORE 1 +FLAGS (\\Seen)")[-1].startswith(b"* 1 FETCH")  # no change
    lines = ok(client, b"STORE 1 -FLAGS (\\Seen)")
    assert lines[-1] == b'* ESEARCH (TAG "U1") REMOVEFROM (0 1)'
    ok(client, b"STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    # §4.3.4: "a REMOVEFROM containing message sequence numbers removed as a result of those
    # messages being expunged MUST be sent prior to the expunge notification itself"
    assert ok(client, b"EXPUNGE") == [
        b'* ESEARCH (TAG "U1") REMOVEFROM (0 2)',
        b"* 3 EXPUNGE",
        b"* 2 EXPUNGE",
    ]
    # what was 4 is 2 now, and still in the result
    assert ok(client, b"STORE 2 -FLAGS (\\Seen)")[-1] == b'* ESEARCH (TAG "U1") REMOVEFROM (0 2)'


def test_update_reports_another_sessions_changes_after_their_cause(mail):
    client, other = login(mail), login(mail)
    ok(client, b"UID SEARCH RETURN (UPDATE COUNT) FLAGGED", b"U2")
    ok(other, b"STORE 3 +FLAGS (\\Flagged)")
    lines = ok(client, b"NOOP")
    assert len(lines) == 2 and lines[0].startswith(b"* 3 FETCH (FLAGS (\\Flagged")
    assert lines[1] == b'* ESEARCH (TAG "U2") UID ADDTO (0 3)'
    # §4.3.3: an ADDTO for delivered messages "MUST be sent after the EXISTS notification"
    ok(other, b"APPEND INBOX (\\Flagged) {2+}\r\nhi")
    lines = ok(client, b"NOOP")
    assert lines[0] == b"* 8 EXISTS" and lines[-1] == b'* ESEARCH (TAG "U2") UID ADDTO (0 8)'
    ok(other, b"STORE 3 +FLAGS.SILENT (\\Deleted)")
    ok(other, b"EXPUNGE")
    assert ok(client, b"NOOP") == [b'* ESEARCH (TAG "U2") UID REMOVEFROM (0 3)', b"* 3 EXPUNGE"]


def test_mail_delivered_over_smtp_reaches_an_update_context(mail):
    client = login(mail, rev2=True)
    ok(client, b"SEARCH RETURN (UPDATE) SUBJECT invoice", b"U3")
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@b.test", ["user@example.com"], b"Subject: your invoice\r\n\r\nhi\r\n")
    lines = ok(client, b"NOOP")
    assert lines[0] == b"* 8 EXISTS" and lines[-1] == b'* ESEARCH (TAG "U3") ADDTO (0 8)'


def test_idle_pushes_updates(mail):
    client, other = login(mail), login(mail)
    ok(client, b"SEARCH RETURN (UPDATE) ANSWERED", b"U4")
    client.send(b"I1 IDLE\r\n")
    assert client.readline().startswith(b"+ ")
    ok(other, b"STORE 5 +FLAGS (\\Answered)")
    assert client.readline().startswith(b"* 5 FETCH (FLAGS (\\Answered")
    assert client.readline() == b'* ESEARCH (TAG "U4") ADDTO (0 5)\r\n'
    client.send(b"DONE\r\n")
    assert client.readline().startswith(b"I1 OK")


def test_cancelupdate_stops_updates_and_names_must_be_known(mail):
    client = login(mail)
    ok(client, b"SEARCH RETURN (UPDATE) SEEN", b"U5")
    ok(client, b"SEARCH RETURN (UPDATE MIN) DRAFT", b"U6")
    # RFC 5267 §4.3: a tag that names an update context cannot name another
    assert send(client, b"SEARCH RETURN (UPDATE) ALL", b"U5")[-1].startswith(b"TAG BAD")
    assert send(client, b'CANCELUPDATE "U5" "nope"')[-1].startswith(b"TAG NO")
    ok(client, b'CANCELUPDATE "U5"')
    lines = ok(client, b"STORE 1 +FLAGS (\\Seen \\Draft)")
    assert esearch(lines) == [b'* ESEARCH (TAG "U6") ADDTO (0 1)']
    assert send(client, b'CANCELUPDATE "U5"')[-1].startswith(b"TAG NO")  # already gone
    ok(client, b'CANCELUPDATE "U6"')
    assert esearch(ok(client, b"STORE 2 +FLAGS (\\Draft)")) == []
    # cancelupdate = "CANCELUPDATE" 1*(SP quoted)
    for bad in (
        b"CANCELUPDATE",
        b"CANCELUPDATE U6",
        b"CANCELUPDATE {2+}\r\nU6",
        b"CANCELUPDATE ()",
    ):
        assert send(client, bad)[-1].startswith(b"TAG BAD"), bad


def test_cancelupdate_needs_a_selected_mailbox(mail):
    client = login(mail, select=False)
    assert send(client, b'CANCELUPDATE "x"')[-1].startswith(b"TAG BAD")


def test_updates_end_with_the_selection(mail):
    # §4.3: "Updates will cease when the mailbox is no longer selected"
    client = login(mail)
    ok(client, b"SEARCH RETURN (UPDATE) SEEN", b"U7")
    ok(client, b"UNSELECT")
    ok(client, b"SELECT INBOX")
    assert esearch(ok(client, b"STORE 1 +FLAGS (\\Seen)")) == []
    ok(client, b"SEARCH RETURN (UPDATE) SEEN", b"U7")  # the tag is free again


def test_more_contexts_than_the_limit_are_refused_with_noupdate(mail):
    # §4.3.1: "an untagged NO is generated ... with a response-code of NOUPDATE"; "Other
    # return options specified SHALL still be honoured"
    client = login(mail)
    for n in range(10):
        ok(client, b"SEARCH RETURN (UPDATE) SEEN", b"N%d" % n)
    lines = ok(client, b"SEARCH RETURN (UPDATE COUNT) SEEN", b"N10")
    assert lines == [b'* ESEARCH (TAG "N10") COUNT 0', b'* NO [NOUPDATE "N10"] Too many contexts']
    assert len(esearch(ok(client, b"STORE 1 +FLAGS (\\Seen)"))) == 10


def test_sort_update_is_refused_and_the_rest_answered(mail):
    # §4.3.1: "refusal to provide updates for a SORT command does not imply that SEARCH
    # contexts will also be refused"
    client = login(mail)
    lines = ok(client, b"SORT RETURN (UPDATE COUNT) (ARRIVAL) UTF-8 ALL", b"S3")
    assert lines == [
        b'* ESEARCH (TAG "S3") COUNT 7',
        b'* NO [NOUPDATE "S3"] Sort results are not updated',
    ]
    assert esearch(ok(client, b"STORE 1 +FLAGS (\\Seen)")) == []


def test_update_with_sequence_sets_keeps_their_meaning_from_when_it_was_given(mail):
    # §4.3: "any message sequence numbers used in the search program are evaluated at the
    # time the command is received"
    client = login(mail)
    ok(client, b"SEARCH RETURN (UPDATE) 6:* SEEN", b"U8")
    lines = ok(client, b"APPEND INBOX (\\Seen) {2+}\r\nhi")
    assert lines == [b"* 8 EXISTS", b"* 8 RECENT"]  # 8 was not in 6:* when the search came
    assert esearch(ok(client, b"STORE 7 +FLAGS (\\Seen)")) == [b'* ESEARCH (TAG "U8") ADDTO (0 7)']


def test_an_update_context_for_new_mail_sees_what_arrives(mail):
    # NEW is RECENT UNSEEN (RFC 3501 §6.4.4): a message arriving while selected is recent here
    client, other = login(mail), login(mail)
    ok(client, b"SEARCH RETURN (UPDATE) NEW", b"U9")
    ok(other, b"APPEND INBOX {2+}\r\nhi")
    lines = ok(client, b"NOOP")
    assert lines[0] == b"* 8 EXISTS" and lines[-1] == b'* ESEARCH (TAG "U9") ADDTO (0 8)'
    assert ok(client, b"STORE 8 +FLAGS (\\Seen)")[-1] == b'* ESEARCH (TAG "U9") REMOVEFROM (0 8)'
