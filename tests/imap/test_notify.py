"""IMAP NOTIFY (RFC 5465) over real sockets: the command's syntax and refusals, the STATUS it
sends at once, STATUS and LIST about other mailboxes as another session, SMTP or the post office
change them, the selected mailbox's events pushed without a command, NOTIFY NONE, and the rev1
and rev2 (and QRESYNC) forms of what is pushed."""

from __future__ import annotations

import re
import smtplib

import pytest

from elektromail.testing import MailServer
from tests.faults.conftest import subscribers, wait_until
from tests.imap.wire import ImapWire

MESSAGE = b"Subject: hello\r\n\r\nbody\r\n"
ALL_MESSAGE_EVENTS = b"(MessageNew MessageExpunge FlagChange)"


@pytest.fixture
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def shared():
    """One server for the tests that only parse."""
    with MailServer() as server:
        yield server


def connect(mail: MailServer, *, login: bool = True) -> ImapWire:
    wire = ImapWire(mail.imap_port)
    if login:
        wire.login()
    return wire


def ok(wire: ImapWire, command: bytes) -> list[bytes]:
    """The untagged responses of a command that must succeed."""
    lines = wire.tagged(command)
    assert b" OK " in lines[-1], lines
    return lines[:-1]


def barrier(wire: ImapWire) -> list[bytes]:
    """What arrives before the answer to a command that waits on the store: a notification
    whose store query was asked for earlier is written before it (one store, in order)."""
    return [line for line in ok(wire, b"STATUS Trash (MESSAGES)") if b"STATUS Trash" not in line]


def append(mail: MailServer, mailbox: str = "INBOX", flags=()) -> int:
    return mail.inject("user", MESSAGE, mailbox, flags=flags)


def other(mail: MailServer, *commands: bytes) -> None:
    """Commands from a second session of the same user."""
    with connect(mail) as wire:
        for command in commands:
            ok(wire, command)


# --- CAPABILITY (RFC 5465 §3) -------------------------------------------------------------------


def test_notify_is_advertised_only_after_login(mail):
    # as Dovecot does: NOTIFY is an authenticated-state command (§8 command-auth)
    wire = connect(mail, login=False)
    (before,) = [line for line in wire.tagged(b"CAPABILITY") if line.startswith(b"* CAPABILITY")]
    assert b" NOTIFY" not in before
    assert b" NOTIFY " in wire.login()
    (after,) = ok(wire, b"CAPABILITY")
    assert b" NOTIFY " in after


def test_notify_before_login_is_bad(shared):
    wire = connect(shared, login=False)
    assert wire.status(b"NOTIFY NONE") == b"BAD NOTIFY not allowed before authentication"


# --- syntax (§8) and refusals (§3.1, §5, §6.1) ------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(b"", id="no-arguments"),
        pytest.param(b"SOMETIMES", id="neither-set-nor-none"),
        pytest.param(b"NONE (selected NONE)", id="none-with-arguments"),
        pytest.param(b"SET", id="set-without-groups"),
        pytest.param(b"SET STATUS", id="status-without-groups"),
        pytest.param(b"SET selected", id="group-not-a-list"),
        pytest.param(b"SET ()", id="empty-group"),
        pytest.param(b'SET ("selected" NONE)', id="filter-a-string"),
        pytest.param(b"SET (everything (MessageNew MessageExpunge))", id="unknown-filter"),
        pytest.param(b"SET (selected)", id="selected-without-events"),
        pytest.param(b"SET (selected ())", id="empty-event-list"),
        pytest.param(b"SET (selected NONE NONE)", id="selected-extra-argument"),
        pytest.param(b"SET (personal (MessageNew MessageExpunge) x)", id="group-extra-argument"),
        pytest.param(b'SET (personal ("MessageNew" "MessageExpunge"))', id="events-as-strings"),
        pytest.param(b"SET (mailboxes (MessageNew MessageExpunge))", id="mailboxes-no-names"),
        pytest.param(b"SET (mailboxes () (MessageNew MessageExpunge))", id="empty-name-list"),
        pytest.param(b"SET (subtree INBOX)", id="subtree-without-events"),
        pytest.param(b"SET (mailboxes ((INBOX)) NONE)", id="name-a-list"),
        # §6.1 "Only one of the mailbox specifiers affecting the currently selected mailbox
        # can be specified in any NOTIFY command"
        pytest.param(b"SET (selected NONE) (selected-delayed NONE)", id="two-selected-filters"),
        # §6.1 "It is an error to specify other types of events with either the SELECTED or
        # the SELECTED-DELAYED selector."
        pytest.param(
            b"SET (selected (MessageNew MessageExpunge MailboxName))", id="selected-mailbox-event"
        ),
        # §5 "If one of MessageNew or MessageExpunge is specified, then both events MUST be
        # specified. Otherwise, the server MUST respond with the tagged BAD response."
        pytest.param(b"SET (selected (MessageNew))", id="new-without-expunge"),
        pytest.param(b"SET (selected-delayed (MessageExpunge))", id="expunge-without-new"),
        # "If the FlagChange and/or AnnotationChange events are specified, MessageNew and
        # MessageExpunge MUST also be specified by the client. Otherwise ... BAD"
        pytest.param(b"SET (selected (FlagChange))", id="flags-without-new-and-expunge"),
        # §8: "The fett-att list may only be present for the SELECTED/SELECTED-DELAYED"
        pytest.param(
            b"SET (personal (MessageNew (UID) MessageExpunge))", id="fetch-att-for-others"
        ),
        pytest.param(b"SET (selected (MessageNew () MessageExpunge))", id="empty-fetch-att"),
        pytest.param(
            b"SET (selected (MessageNew (NOSUCHATT) MessageExpunge))", id="unknown-fetch-att"
        ),
    ],
)
def test_malformed_notify_is_bad(shared, arguments):
    wire = connect(shared)
    (answer,) = wire.tagged(b"NOTIFY " + arguments if arguments else b"NOTIFY")
    assert answer.split(b" ")[1] == b"BAD", answer
    assert wire.status(b"NOOP") == b"OK NOOP completed"  # still usable


SUPPORTED = b"(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)"


@pytest.mark.parametrize(
    "events",
    [
        pytest.param(b"(MessageNew MessageExpunge AnnotationChange)", id="annotation"),
        pytest.param(b"(MailboxMetadataChange)", id="mailbox-metadata"),
        pytest.param(b"(ServerMetadataChange)", id="server-metadata"),
        pytest.param(b"(MailboxName XFutureEvent)", id="event-ext"),
    ],
)
def test_unsupported_event_is_no_badevent_listing_the_supported_ones(shared, events):
    # §3.1: "MUST refuse the command with a tagged NO response (not a BAD). This response
    # SHOULD contain the BADEVENT response code, which MUST list names of all events supported
    # by the server." (§8: "BADEVENT" SP "(" event *(SP event) ")")
    wire = connect(shared)
    answer = wire.status(b"NOTIFY SET (personal " + events + b")")
    assert answer == b"NO [BADEVENT " + SUPPORTED + b"] Unsupported NOTIFY events"


def test_too_many_mailbox_names_is_notificationoverflow(shared):
    # §3.1: "If the notification would be prohibitively expensive for the server ... the
    # server MAY refuse the command with a tagged NO [NOTIFICATIONOVERFLOW] response."
    names = b" ".join(b"box%d" % n for n in range(101))
    wire = connect(shared)
    answer = wire.status(b"NOTIFY SET (mailboxes (" + names + b") (MessageNew MessageExpunge))")
    assert answer == b"NO [NOTIFICATIONOVERFLOW] Too many mailbox names"


@pytest.mark.parametrize(
    "arguments",
    [
        b"NONE",
        b"SET (selected NONE)",
        b"SeT (SELECTED-DELAYED (messagenew messageexpunge flagchange))",  # §8: any case
        b"SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge))",
        b"SET (inboxes (MessageNew MessageExpunge)) (personal (SubscriptionChange))",
        b"SET (subtree (INBOX Archive) (MailboxName)) (subscribed NONE)",
        # §5 pairs are asked for the selected mailbox; for others the reference Dovecot (2.3)
        # takes a lone event, and imaptest's notify script relies on it
        b"SET (mailboxes Trash (MessageExpunge))",
    ],
)
def test_wellformed_notify_is_ok(shared, arguments):
    wire = connect(shared)
    assert wire.status(b"NOTIFY " + arguments) == b"OK NOTIFY completed"


# --- NOTIFY SET STATUS (§3.1) -----------------------------------------------------------------

STATUS_LINE = re.compile(rb"\* STATUS (\S+) \((.*)\)\r\n")


def status_items(line: bytes) -> tuple[bytes, dict[bytes, int]]:
    match = STATUS_LINE.fullmatch(line)
    assert match, line
    words = match.group(2).split()
    return match.group(1), {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}


def test_set_status_tells_each_watched_mailbox_at_once(mail):
    append(mail, "Archive")
    append(mail, "Archive", flags=["\\Seen"])
    wire = connect(mail)
    # "If MessageNew is enabled, the STATUS response MUST contain MESSAGES, UIDNEXT, and
    # UIDVALIDITY. If MessageExpunge is enabled, the STATUS response MUST contain MESSAGES."
    (line,) = ok(wire, b"NOTIFY SET STATUS (mailboxes Archive (MessageNew MessageExpunge))")
    name, items = status_items(line)
    assert name == b"Archive"
    assert list(items) == [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN"]
    assert (items[b"MESSAGES"], items[b"UIDNEXT"], items[b"UNSEEN"]) == (2, 3, 1)
    # "If either AnnotationChange or FlagChange are included and the server also supports the
    # CONDSTORE ... the STATUS response MUST contain UIDVALIDITY and HIGHESTMODSEQ."
    (line,) = ok(wire, b"NOTIFY SET STATUS (mailboxes Archive " + ALL_MESSAGE_EVENTS + b")")
    assert b"UIDVALIDITY" in status_items(line)[1] and b"HIGHESTMODSEQ" in status_items(line)[1]


def test_set_without_status_and_mailbox_events_send_no_status(mail):
    # "Absence of the STATUS indicator parameter allows the client to avoid the additional
    # STATUS responses"; STATUS is for message events only
    wire = connect(mail)
    assert ok(wire, b"NOTIFY SET (mailboxes Archive " + ALL_MESSAGE_EVENTS + b")") == []
    assert ok(wire, b"NOTIFY SET STATUS (personal (MailboxName SubscriptionChange))") == []


def test_set_status_skips_the_selected_mailbox_and_unmatched_ones(mail):
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    lines = ok(wire, b"NOTIFY SET STATUS (personal (MessageNew MessageExpunge))")
    names = [status_items(line)[0] for line in lines]
    assert names == [b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash"]
    lines = ok(wire, b"NOTIFY SET STATUS (subtree Sent (MessageNew MessageExpunge))")
    assert [status_items(line)[0] for line in lines] == [b"Sent"]


# --- other mailboxes (§5.1-§5.3) --------------------------------------------------------------


def test_smtp_delivery_to_another_mailbox_sends_status_unasked(mail):
    # §5.2: "If the new/appended message is in another mailbox, the server sends an
    # unsolicited STATUS (UIDNEXT MESSAGES) response for the relevant mailbox."
    wire = connect(mail)
    ok(wire, b"SELECT Archive")
    ok(wire, b"NOTIFY SET (inboxes (MessageNew MessageExpunge))")
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@b.test", ["user@example.com"], MESSAGE)
    # no command: NOTIFY "permits and requires the server to send information about updates
    # between commands" (§1)
    assert wire.line() == b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UNSEEN 1)\r\n"


def test_flag_change_elsewhere_sends_unseen_and_with_condstore_modseq(mail):
    append(mail, "Archive")
    wire = connect(mail)
    ok(wire, b"NOTIFY SET STATUS (mailboxes Archive " + ALL_MESSAGE_EVENTS + b")")
    other(mail, b"SELECT Archive", b"STORE 1 +FLAGS (\\Seen)")
    # §5.1: "If the number of messages with the \Seen flag changes, the server MAY also
    # include the UNSEEN data item"
    assert wire.line() == b"* STATUS Archive (UNSEEN 0)\r\n"
    # "If CONDSTORE/QRESYNC is not enabled by the client and the server chooses not to include
    # the UNSEEN data item, the server does not notify the client."
    other(mail, b"SELECT Archive", b"STORE 1 +FLAGS (\\Flagged)")
    assert barrier(wire) == []
    # "If CONDSTORE ... enabled ... at least HIGHESTMODSEQ and UIDVALIDITY"
    ok(wire, b"ENABLE CONDSTORE")
    other(mail, b"SELECT Archive", b"STORE 1 -FLAGS (\\Flagged)")
    name, items = status_items(wire.line())
    assert name == b"Archive" and list(items) == [b"UIDVALIDITY", b"HIGHESTMODSEQ"]


def test_expunge_elsewhere_sends_messages_and_with_qresync_modseq(mail):
    append(mail, "Archive", flags=["\\Deleted"])
    append(mail, "Archive")
    wire = connect(mail)
    ok(wire, b"ENABLE QRESYNC")
    ok(wire, b"NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge))")
    other(mail, b"SELECT Archive", b"EXPUNGE")
    # §5.3: "STATUS (UIDNEXT MESSAGES) ... If the QRESYNC [RFC5162] extension is enabled, the
    # HIGHESTMODSEQ data item MUST be included"
    name, items = status_items(wire.line())
    assert name == b"Archive"
    assert list(items) == [b"MESSAGES", b"UIDNEXT", b"UNSEEN", b"HIGHESTMODSEQ"]
    assert items[b"MESSAGES"] == 1


def test_events_not_asked_for_are_not_told(mail):
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge)) (subtree Sent NONE)")
    append(mail, "Sent")  # NONE for Sent
    append(mail, "Junk")  # not watched at all
    append(mail, "Archive", flags=["\\Seen"])
    other(mail, b"SELECT Archive", b"STORE 1 -FLAGS (\\Seen)")  # FlagChange not asked
    (line,) = barrier(wire)
    assert status_items(line)[0] == b"Archive"


def test_subtree_watches_the_children_too(mail):
    # §6.5: "all selectable mailboxes that are subordinate to the specified mailbox plus the
    # specified mailbox itself"
    other(mail, b"CREATE Projects/2026", b"CREATE ProjectsOld")
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (subtree Projects (MessageNew MessageExpunge))")
    append(mail, "Projects/2026")
    append(mail, "ProjectsOld")
    append(mail, "Projects")
    lines = barrier(wire)
    assert [status_items(line)[0] for line in lines] == [b"Projects/2026", b"Projects"]


def test_subscribed_follows_the_subscriptions(mail):
    # §6.4: "If the subscription list changes, the server MUST reevaluate the list."
    other(mail, b"CREATE Lists")
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (subscribed (MessageNew MessageExpunge))")
    append(mail, "Lists")
    assert barrier(wire) == []
    other(mail, b"SUBSCRIBE Lists")
    append(mail, "Lists")
    (line,) = barrier(wire)
    assert status_items(line) == (b"Lists", {b"MESSAGES": 2, b"UIDNEXT": 3, b"UNSEEN": 2})


def test_notify_none_stops_the_notifications(mail):
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
    ok(wire, b"NOTIFY NONE")
    append(mail, "Archive")
    other(mail, b"CREATE Later")
    assert barrier(wire) == []


def test_a_new_notify_replaces_the_old(mail):
    # §3.1: "NOTIFY SET replaces the current list of interesting events with a new list"
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge))")
    ok(wire, b"NOTIFY SET (mailboxes Junk (MessageNew MessageExpunge))")
    append(mail, "Archive")
    append(mail, "Junk")
    assert [status_items(line)[0] for line in barrier(wire)] == [b"Junk"]


# --- MailboxName and SubscriptionChange (§5.4, §5.5) ------------------------------------------


def test_mailbox_create_rename_delete_send_list(mail):
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (personal (MailboxName))")
    # "If a mailbox is created or deleted, the mailbox itself and its direct parent (whether it
    # is an existing mailbox or not) are considered to be affected."
    other(mail, b"CREATE Work/Reports")
    assert wire.line() == b'* LIST (\\HasNoChildren) "/" Work/Reports\r\n'
    assert wire.line() == b'* LIST (\\HasChildren) "/" Work\r\n'
    # "an extended LIST response [RFC5258] for the new mailbox name, containing the OLDNAME
    # extended data item"; children move along with no events of their own
    other(mail, b"RENAME Work Job")
    assert wire.line() == b'* LIST (\\HasChildren) "/" Job ("OLDNAME" (Work))\r\n'
    # "If, after the event, the mailbox name does not refer to a mailbox accessible to the
    # client, the \Nonexistent flag MUST be included."
    other(mail, b"DELETE Job/Reports")
    assert wire.line() == b'* LIST (\\NonExistent) "/" Job/Reports\r\n'
    assert wire.line() == b'* LIST (\\HasNoChildren) "/" Job\r\n'
    assert barrier(wire) == []


def test_own_mailbox_changes_are_not_told(mail):
    # §5: "if the client issues CREATE and has requested a MailboxName event that would cover
    # the newly created mailbox, the server SHOULD NOT notify the client"
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (personal (MailboxName SubscriptionChange))")
    assert ok(wire, b"CREATE Mine") == []
    assert ok(wire, b"SUBSCRIBE Mine") == []
    assert ok(wire, b"DELETE Mine") == []
    assert barrier(wire) == []


def test_subscription_change_sends_list_with_subscribed_iff_subscribed(mail):
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (personal (SubscriptionChange))")
    # §5.5: "If and only if the mailbox is subscribed after the event, the \Subscribed
    # attribute ... is included."
    other(mail, b"SUBSCRIBE Junk")
    assert wire.line() == b'* LIST (\\HasNoChildren \\Subscribed) "/" Junk\r\n'
    other(mail, b"UNSUBSCRIBE Junk")
    assert wire.line() == b'* LIST (\\HasNoChildren) "/" Junk\r\n'


def test_mailbox_names_follow_the_dialect(mail):
    wire = connect(mail)
    ok(wire, b"ENABLE UTF8=ACCEPT")
    ok(wire, b"NOTIFY SET (personal (MailboxName))")
    other(mail, b"CREATE &AMk-t&AOk-")
    assert wire.line() == '* LIST (\\HasNoChildren) "/" "Été"\r\n'.encode()
    rev1 = connect(mail)
    ok(rev1, b"NOTIFY SET (personal (MailboxName))")
    other(mail, b"DELETE &AMk-t&AOk-")
    assert rev1.line() == b'* LIST (\\NonExistent) "/" &AMk-t&AOk-\r\n'


# --- the selected mailbox (§3.1, §5.1-§5.3, §6.1) ---------------------------------------------


def test_selected_new_message_is_pushed_with_its_fetch_attributes(mail):
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    ok(
        wire,
        b"NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])"
        b" MessageExpunge))",
    )
    append(mail)
    # §5.2: "an unsolicited EXISTS response, followed by an unsolicited FETCH response
    # containing the information requested by the client"
    assert wire.line() == b"* 1 EXISTS\r\n"
    assert wire.line() == b"* 1 RECENT\r\n"  # "MAY also send a RECENT response"
    assert wire.line() == (
        b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: hello\r\n\r\n)\r\n"
    )


def test_selected_flag_change_and_expunge_are_pushed_rev1(mail):
    append(mail)
    append(mail)
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    ok(wire, b"NOTIFY SET (selected " + ALL_MESSAGE_EVENTS + b")")
    other(mail, b"SELECT INBOX", b"STORE 2 +FLAGS (\\Flagged)")
    # §5.1: "an unsolicited FETCH response, which MUST include UID and FLAGS"
    assert wire.line() == b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))\r\n"
    other(mail, b"SELECT INBOX", b"STORE 1 +FLAGS (\\Deleted)", b"EXPUNGE")
    assert wire.line() == b"* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))\r\n"
    assert wire.line() == b"* 1 EXPUNGE\r\n"  # §5.3 without QRESYNC


def test_selected_events_in_rev2_and_with_qresync(mail):
    append(mail)
    wire = connect(mail)
    ok(wire, b"ENABLE IMAP4rev2")
    ok(wire, b"SELECT INBOX")
    ok(wire, b"NOTIFY SET (selected (MessageNew MessageExpunge))")
    append(mail)
    assert wire.line() == b"* 2 EXISTS\r\n"  # no RECENT in IMAP4rev2
    quick = connect(mail)
    ok(quick, b"ENABLE QRESYNC")
    ok(quick, b"SELECT INBOX")
    ok(quick, b"NOTIFY SET (selected (MessageNew MessageExpunge))")
    other(mail, b"SELECT INBOX", b"STORE 1 +FLAGS (\\Deleted)", b"EXPUNGE")
    assert wire.line() == b"* 1 EXPUNGE\r\n"
    # §5.3: "The same example in the selected mailbox, with QRESYNC: S: * VANISHED 5444"
    assert quick.line() == b"* VANISHED 1\r\n"


def test_selected_none_keeps_the_view_until_asked(mail):
    append(mail)
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    # §3.1: no SELECTED filter "means that the client doesn't want to receive any
    # <message-event>s for the currently selected mailbox"; §5: "NOTIFY SET ... NONE can be
    # used as a snapshot facility by clients"
    ok(wire, b"NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge))")
    append(mail)
    other(mail, b"SELECT INBOX", b"STORE 1 +FLAGS (\\Seen)")
    assert ok(wire, b"NOOP") == []
    assert ok(wire, b"UID SEARCH ALL") == [b"* SEARCH 1\r\n"]
    # "A successful NOTIFY SET command MUST cause the server to immediately return any
    # accumulated changes to the currently selected mailbox"
    lines = ok(wire, b"NOTIFY SET (selected " + ALL_MESSAGE_EVENTS + b")")
    # (message 2 is not \Recent here: the other session was the first told of it)
    assert lines == [
        b"* 2 EXISTS\r\n",
        b"* 1 RECENT\r\n",
        b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n",
    ]


def test_selected_delayed_holds_expunges_for_a_command(mail):
    append(mail, flags=["\\Deleted"])
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    ok(wire, b"NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
    other(mail, b"SELECT INBOX", b"EXPUNGE")
    append(mail)
    # §6.1.2: "delay a MessageExpunge event until the client issues a command that allows
    # returning information about expunged messages"; other events MAY come at once
    assert wire.line() == b"* 2 EXISTS\r\n"
    assert wire.line() == b"* 2 RECENT\r\n"
    # the numbers stay as they were: message 2 is still number 2
    assert ok(wire, b"FETCH 2 (UID)") == [b"* 2 FETCH (UID 2)\r\n"]
    assert ok(wire, b"NOOP") == [b"* 1 EXPUNGE\r\n"]


def test_idle_sends_what_notify_asks(mail):
    # §4: "while processing any IDLE command, the server MUST send exactly the same events as
    # instructed by the client using the NOTIFY command"
    append(mail)
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    ok(
        wire,
        b"NOTIFY SET (selected (MessageNew (UID) MessageExpunge)) (personal (MessageNew"
        b" MessageExpunge))",
    )
    wire.send(b"i IDLE\r\n")
    assert wire.line() == b"+ idling\r\n"
    other(mail, b"SELECT INBOX", b"STORE 1 +FLAGS (\\Seen)")  # FlagChange not asked
    append(mail, "Archive")
    assert status_items(wire.line())[0] == b"Archive"
    append(mail)
    assert wire.line() == b"* 2 EXISTS\r\n"
    assert wire.line() == b"* 2 RECENT\r\n"
    assert wire.line() == b"* 2 FETCH (UID 2)\r\n"
    wire.send(b"DONE\r\n")
    assert wire.line() == b"i OK IDLE terminated\r\n"


# --- the notifier's life (§3.1: "lasts until the next NOTIFY command or until the IMAP
# connection is closed") ------------------------------------------------------------------------


def test_the_notifier_ends_with_notify_none_unauthenticate_and_the_connection(mail):
    base = subscribers(mail)
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (personal (MailboxName))")
    ok(wire, b"NOTIFY SET (personal (MessageNew MessageExpunge))")
    assert subscribers(mail) == base + 1  # replaced, not added
    ok(wire, b"NOTIFY NONE")
    assert subscribers(mail) == base
    ok(wire, b"NOTIFY SET (personal (MailboxName))")
    ok(wire, b"UNAUTHENTICATE")
    assert subscribers(mail) == base
    wire.login()
    ok(wire, b"NOTIFY SET (personal (MailboxName))")
    other(mail, b"CREATE Fresh")
    assert wire.line() == b'* LIST (\\HasNoChildren) "/" Fresh\r\n'
    wire.close()
    wait_until(lambda: subscribers(mail) == base, "the notifier's subscription gone")


def test_a_mailbox_that_delivery_creates_is_announced(mail):
    # the HTTP API's inject (and delivery rules) create a missing mailbox, subscribed, as they
    # store
    wire = connect(mail)
    ok(wire, b"NOTIFY SET (personal (MailboxName MessageNew MessageExpunge))")
    append(mail, "Lists/Python")
    assert wire.line() == b'* LIST (\\HasNoChildren \\Subscribed) "/" Lists/Python\r\n'
    assert wire.line() == b'* LIST (\\HasChildren \\Subscribed) "/" Lists\r\n'
    assert status_items(wire.line())[0] == b"Lists/Python"
    other(mail, b"RENAME Lists Groups")
    line = wire.line()
    assert line.startswith(b"* LIST (\\HasChildren") and line.endswith(
        b'Groups ("OLDNAME" (Lists))\r\n'
    )
    append(mail, "Groups/Python")  # known under its new name: no MailboxName
    assert status_items(wire.line())[0] == b"Groups/Python"


# --- SEARCH RETURN (UPDATE (fetch-att)) (§7) --------------------------------------------------


def test_search_update_fetches_the_arrivals_that_join_the_result(mail):
    append(mail)
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    lines = wire.responses(b"S1 SEARCH RETURN (COUNT UPDATE (UID RFC822.SIZE)) SUBJECT hello")
    assert lines == [b'* ESEARCH (TAG "S1") COUNT 1\r\n', b"S1 OK SEARCH completed\r\n"]
    append(mail)
    mail.inject("user", b"Subject: other\r\n\r\nx\r\n")
    # "the EXISTS response MUST precede any FETCH responses, and together they MUST precede
    # the ESEARCH response"
    assert ok(wire, b"NOOP") == [
        b"* 3 EXISTS\r\n",
        b"* 3 RECENT\r\n",
        b"* 2 FETCH (UID 2 RFC822.SIZE 24)\r\n",
        b'* ESEARCH (TAG "S1") ADDTO (0 2)\r\n',
    ]


def test_search_update_does_not_fetch_what_a_flag_change_adds(mail):
    append(mail)
    wire = connect(mail)
    ok(wire, b"SELECT INBOX")
    assert wire.responses(b"S2 SEARCH RETURN (UPDATE (UID RFC822.SIZE)) SEEN")[-1].startswith(
        b"S2 OK"
    )
    other(mail, b"SELECT INBOX", b"STORE 1 +FLAGS (\\Seen)")
    # §7: "No untagged FETCH response SHOULD be returned if a message becomes a member of
    # UPDATE SEARCH due to flag or annotation changes."
    assert ok(wire, b"NOOP") == [
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n",
        b'* ESEARCH (TAG "S2") ADDTO (0 1)\r\n',
    ]


@pytest.mark.parametrize("fetch", [b"(NOSUCHATT)", b"(UID", b"(UID (FLAGS))"])
def test_search_update_with_bad_fetch_attributes_is_bad(shared, fetch):
    wire = connect(shared)
    ok(wire, b"SELECT INBOX")
    (answer,) = wire.tagged(b"SEARCH RETURN (UPDATE " + fetch + b") ALL")
    assert answer.split(b" ")[1] == b"BAD", answer
    assert ok(wire, b"NOOP") == []  # no context left behind


def test_search_update_with_an_empty_fetch_list_is_plain_update(shared):
    wire = connect(shared)
    ok(wire, b"SELECT INBOX")
    assert wire.responses(b"E1 SEARCH RETURN (UPDATE ()) ALL") == [
        b'* ESEARCH (TAG "E1")\r\n',
        b"E1 OK SEARCH completed\r\n",
    ]
