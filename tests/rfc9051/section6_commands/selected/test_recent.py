"""RFC 3501 §2.3.2 \\Recent in an IMAP4rev1 session: who sees it, and what keeps or loses it.

IMAP4rev2 dropped \\Recent (RFC 9051 Appendix E); every test here is an IMAP4rev1 session.
"""

from __future__ import annotations

from tests.rfc9051.assertions import (
    assert_ok,
    assert_status_items,
    fetched,
    flag_set,
    search_hits,
    selection,
)
from tests.rfc9051.client import quote
from tests.rfc9051.fixtures import PLAIN


def filled(rev1, names, count: int = 2) -> str:
    """A new mailbox holding `count` appended messages, none of them selected yet."""
    name = names.created(rev1)
    for _ in range(count):
        assert_ok(rev1.append(name, PLAIN))
    return name


def recent_flags(client, sequence: str = "1:*") -> dict[int, bool]:
    """Whether each message of the selected mailbox shows \\Recent in its FLAGS."""
    result = client.command("FETCH", sequence, "(FLAGS)")
    assert_ok(result)
    return {n: "\\recent" in flag_set(items["FLAGS"]) for n, items in fetched(result).items()}


def status_recent(client, name: str) -> int:
    result = client.status(name, "RECENT")
    assert_ok(result)
    return assert_status_items(result, name)["RECENT"]


def test_appended_messages_are_recent_in_the_first_select(rev1, names):
    """RFC 3501 §6.3.11: "In either case, the Recent flag is also set." §7.3.2: RECENT
    "reports the number of messages with the \\Recent flag set" as a result of SELECT."""
    name = filled(rev1, names)
    data = selection(rev1.select(name))
    assert data["RECENT"] == 2
    assert recent_flags(rev1) == {1: True, 2: True}


def test_a_later_session_does_not_see_them_recent(rev1, connect, names):
    """RFC 3501 §2.3.2: "if the session is read-write, subsequent sessions will not see
    \\Recent set for this message"."""
    name = filled(rev1, names)
    assert_ok(rev1.select(name))
    later = connect(login=True)
    assert selection(later.select(name))["RECENT"] == 0
    assert recent_flags(later) == {1: False, 2: False}


def test_examine_does_not_take_recent(rev1, connect, names):
    """RFC 3501 §6.3.2: "EXAMINE MUST NOT cause messages to lose the \\Recent flag"; it shows
    them as SELECT would ("identical to SELECT and returns the same output")."""
    name = filled(rev1, names)
    assert selection(rev1.select(name, examine=True))["RECENT"] == 2
    assert recent_flags(rev1) == {1: True, 2: True}
    later = connect(login=True)
    assert selection(later.select(name))["RECENT"] == 2


def test_status_counts_recent_and_does_not_take_it(rev1, connect, names):
    """RFC 3501 §6.3.10: RECENT is "The number of messages with the \\Recent flag set", and
    "STATUS MUST NOT cause messages to lose the \\Recent flag"."""
    name = filled(rev1, names, 3)
    assert status_recent(rev1, name) == 3
    assert status_recent(rev1, name) == 3
    other = connect(login=True)
    assert selection(other.select(name))["RECENT"] == 3
    assert status_recent(rev1, name) == 0  # the read-write session took them


def test_mail_arriving_in_the_selected_mailbox_is_recent_there(rev1, connect, names):
    """RFC 3501 §7.3.2: RECENT is sent "if the size of the mailbox changes (e.g., new
    messages)"; the selected session is the first notified (§2.3.2)."""
    name = filled(rev1, names, 1)
    assert_ok(rev1.select(name))
    appender = connect(login=True)
    assert_ok(appender.append(name, PLAIN))
    result = rev1.command("NOOP")
    assert_ok(result)
    assert result.of("EXISTS")[-1].number == 2
    assert result.of("RECENT")[-1].number == 2
    assert recent_flags(rev1) == {1: True, 2: True}
    assert status_recent(appender, name) == 0


def test_copies_are_recent_in_the_destination(rev1, connect, names):
    """RFC 3501 §6.4.7: "the Recent flag SHOULD be set, in the copy"."""
    source = filled(rev1, names, 2)
    target = names.created(rev1)
    assert_ok(rev1.select(source))
    assert_ok(rev1.command("COPY", "1:2", quote(target)))
    assert status_recent(rev1, target) == 2
    other = connect(login=True)
    assert selection(other.select(target))["RECENT"] == 2
    assert recent_flags(other) == {1: True, 2: True}


def test_search_recent_new_and_old(rev1, connect, names):
    """RFC 3501 §6.4.4: RECENT "Messages that have the \\Recent flag set"; NEW "have the
    \\Recent flag set but not the \\Seen flag"; OLD "do not have the \\Recent flag set"."""
    name = filled(rev1, names, 2)
    assert_ok(rev1.select(name))  # takes 1 and 2
    appender = connect(login=True)
    for _ in range(2):
        assert_ok(appender.append(name, PLAIN))
    assert_ok(rev1.command("NOOP"))  # 3 and 4 arrive here: recent in this session too
    assert_ok(rev1.command("CLOSE"))
    for _ in range(2):
        assert_ok(appender.append(name, PLAIN))
    later = connect(login=True)
    assert_ok(later.select(name))  # the first to see 5 and 6
    assert_ok(later.command("STORE", "6", "+FLAGS.SILENT", r"(\Seen)"))
    assert search_hits(later.command("SEARCH", "RECENT")) == [5, 6]
    assert search_hits(later.command("SEARCH", "NEW")) == [5]
    assert search_hits(later.command("SEARCH", "OLD")) == [1, 2, 3, 4]
    assert search_hits(later.command("SEARCH", "NOT", "NEW")) == [1, 2, 3, 4, 6]


def test_store_flags_does_not_remove_recent(rev1, names):
    """RFC 3501 §6.4.6: FLAGS "Replace the flags for the message (other than \\Recent)"."""
    name = filled(rev1, names, 1)
    assert_ok(rev1.select(name))
    result = rev1.command("STORE", "1", "FLAGS", r"(\Seen)")
    assert_ok(result)
    assert flag_set(fetched(result)[1]["FLAGS"]) == {"\\seen", "\\recent"}
    assert recent_flags(rev1) == {1: True}


def test_recent_stays_with_the_session_after_close_and_reselect(rev1, names):
    """RFC 3501 §2.3.2: \\Recent belongs to "the first session to have been notified"; once
    a read-write session closed the mailbox, even that session's next SELECT sees none."""
    name = filled(rev1, names, 1)
    assert_ok(rev1.select(name))
    assert_ok(rev1.command("CLOSE"))
    assert selection(rev1.select(name))["RECENT"] == 0
