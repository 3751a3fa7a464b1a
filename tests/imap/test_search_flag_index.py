"""SEARCH keys of flags answered from the session's view (MailboxView.uids_with_flag): the
same answers as a pass over the view's flags, also after other sessions' flag changes,
expunges and new messages."""

from __future__ import annotations

import imaplib
import random

import pytest

from elektromail.imap.view import MailboxView
from elektromail.testing import MailServer
from tests.imap.test_search_command import login, raw

FLAGS = ("\\Seen", "\\Flagged", "\\Deleted", "\\Answered", "\\Draft", "$Work", "todo")


def having(view: MailboxView, flag: str) -> set[int]:
    """The answer by a pass over every message's flags, as SEARCH read them before."""
    return {uid for uid, flags in view.flags.items() if flag.lower() in map(str.lower, flags)}


def random_flags(rng: random.Random) -> tuple[str, ...]:
    chosen = rng.sample(FLAGS, rng.randint(0, 3))
    return tuple(flag.upper() if rng.random() < 0.2 else flag for flag in chosen)


@pytest.mark.parametrize("seed", range(20))
def test_flag_index_follows_every_change_of_the_view(seed):
    rng = random.Random(seed)
    messages = [(uid, random_flags(rng)) for uid in range(1, 40)]
    view = MailboxView(1, "INBOX", 1, 40, messages, readonly=False)
    next_uid = 40
    for _step in range(150):
        action = rng.randrange(6)
        uids = list(view.uids)
        if action == 0 and uids:
            view.set_flags(rng.choice(uids), random_flags(rng))
        elif action == 1 and uids:
            view.note_flags(rng.choice(uids), random_flags(rng))
        elif action == 2 and uids:
            view.note_expunged(rng.choice(uids))
        elif action == 3:
            view.note_added(next_uid, random_flags(rng), recent=rng.random() < 0.5)
            next_uid += 1
        elif action == 4:
            view.take_flag_changes()
            view.take_added()
        else:
            view.take_expunges()
        if rng.random() < 0.3:  # the index is built late in some runs, early in others
            for flag in (*FLAGS, "nosuch"):
                found = view.uids_with_flag(rng.choice([flag, flag.upper(), flag.lower()]))
                assert found == having(view, flag)
                assert found <= set(view.uids)


def test_a_flag_no_message_has_gives_an_empty_set_that_stays_empty():
    view = MailboxView(1, "INBOX", 1, 3, [(1, ()), (2, ("\\Seen",))], readonly=False)
    assert view.uids_with_flag("\\Flagged") == set()
    view.set_flags(1, ("\\Flagged",))
    assert view.uids_with_flag("\\flagged") == {1}
    assert view.uids_with_flag("$nothing") == set()


@pytest.fixture
def mail():
    with MailServer() as server:
        for i in range(5):
            server.call(
                server.server.postoffice.deliver, ["user@x"], b"Subject: %d\r\n\r\nx\r\n" % i
            )
        yield server


def search(client: imaplib.IMAP4, criteria: bytes) -> list[bytes]:
    return [
        line
        for line in raw(client, criteria)
        if line.startswith((b"* SEARCH", b"* ESEARCH", b"OK", b"NO", b"BAD"))
    ]


QUERIES = [
    b"UID SEARCH SEEN",
    b"UID SEARCH UNSEEN",
    b"SEARCH SEEN",
    b"SEARCH UNSEEN",
    b"UID SEARCH FLAGGED",
    b"UID SEARCH UNFLAGGED",
    b"UID SEARCH DELETED",
    b"UID SEARCH KEYWORD $work",
    b"UID SEARCH UNKEYWORD $Work",
    b"UID SEARCH OR SEEN FLAGGED",
    b"UID SEARCH NOT SEEN",
    b"SEARCH 2:4 UNSEEN",
    b"UID SEARCH UID 2:* SEEN NOT DELETED",
    b"UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN",
    b"UID SEARCH RETURN (SAVE) SEEN",
    b"UID SEARCH $ UNFLAGGED",
    b"UID SEARCH RECENT UNSEEN",
]

# What each query answers at each point of the scenario below, its lines joined by " | "
# (recorded with the pass over the view's flags that SEARCH made before the index).
EXPECTED = {
    "start": [
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 1 2 3 4 5 | OK UID SEARCH completed",
        "* SEARCH | OK SEARCH completed",
        "* SEARCH 1 2 3 4 5 | OK SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 1 2 3 4 5 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 1 2 3 4 5 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 1 2 3 4 5 | OK UID SEARCH completed",
        "* SEARCH 2 3 4 | OK SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        '* ESEARCH (TAG "X") UID MIN 1 MAX 5 COUNT 5 ALL 1:5 | OK UID SEARCH completed',
        "OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 1 2 3 4 5 | OK UID SEARCH completed",
    ],
    "changed elsewhere": [
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 2 4 5 | OK UID SEARCH completed",
        "* SEARCH 1 3 | OK SEARCH completed",
        "* SEARCH 2 4 5 | OK SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 | OK UID SEARCH completed",
        "* SEARCH 1 2 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 | OK UID SEARCH completed",
        "* SEARCH 2 4 | OK SEARCH completed",
        "* SEARCH 3 | OK UID SEARCH completed",
        '* ESEARCH (TAG "X") UID MIN 2 MAX 5 COUNT 3 ALL 2,4:5 | OK UID SEARCH completed',
        "OK UID SEARCH completed",
        "* SEARCH 1 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 | OK UID SEARCH completed",
    ],
    "after NOOP": [
        "* SEARCH 1 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 | OK UID SEARCH completed",
        "* SEARCH 1 3 | OK SEARCH completed",
        "* SEARCH 2 4 5 | OK SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 | OK UID SEARCH completed",
        "* SEARCH 1 2 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 | OK UID SEARCH completed",
        "* SEARCH 2 4 | OK SEARCH completed",
        "* SEARCH 3 | OK UID SEARCH completed",
        '* ESEARCH (TAG "X") UID MIN 2 MAX 5 COUNT 3 ALL 2,4:5 | OK UID SEARCH completed',
        "OK UID SEARCH completed",
        "* SEARCH 1 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 | OK UID SEARCH completed",
    ],
    "expunged and added elsewhere": [
        "* SEARCH 1 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 6 | OK UID SEARCH completed",
        "* SEARCH 1 3 | OK SEARCH completed",
        "* SEARCH 2 4 5 6 | OK SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 6 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 6 | OK UID SEARCH completed",
        "* SEARCH 1 2 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 6 | OK UID SEARCH completed",
        "* SEARCH 2 4 | OK SEARCH completed",
        "* SEARCH 3 | OK UID SEARCH completed",
        '* ESEARCH (TAG "X") UID MIN 2 MAX 6 COUNT 4 ALL 2,4:6 | OK UID SEARCH completed',
        "OK UID SEARCH completed",
        "* SEARCH 1 3 | OK UID SEARCH completed",
        "* SEARCH 2 4 5 6 | OK UID SEARCH completed",
    ],
    "stored here": [
        "* SEARCH 1 3 4 | OK UID SEARCH completed",
        "* SEARCH 2 5 6 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 | OK SEARCH completed",
        "* SEARCH 2 5 6 | OK SEARCH completed",
        "* SEARCH 2 4 | OK UID SEARCH completed",
        "* SEARCH 1 3 5 6 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 1 3 4 5 6 | OK UID SEARCH completed",
        "* SEARCH 1 2 3 4 | OK UID SEARCH completed",
        "* SEARCH 2 5 6 | OK UID SEARCH completed",
        "* SEARCH 2 | OK SEARCH completed",
        "* SEARCH 3 4 | OK UID SEARCH completed",
        '* ESEARCH (TAG "X") UID MIN 2 MAX 6 COUNT 3 ALL 2,5:6 | OK UID SEARCH completed',
        "OK UID SEARCH completed",
        "* SEARCH 1 3 | OK UID SEARCH completed",
        "* SEARCH 2 5 6 | OK UID SEARCH completed",
    ],
    "after the second NOOP": [
        "* SEARCH 3 4 | OK UID SEARCH completed",
        "* SEARCH 2 5 6 | OK UID SEARCH completed",
        "* SEARCH 2 3 | OK SEARCH completed",
        "* SEARCH 1 4 5 | OK SEARCH completed",
        "* SEARCH 2 4 | OK UID SEARCH completed",
        "* SEARCH 3 5 6 | OK UID SEARCH completed",
        "* SEARCH | OK UID SEARCH completed",
        "* SEARCH 2 | OK UID SEARCH completed",
        "* SEARCH 3 4 5 6 | OK UID SEARCH completed",
        "* SEARCH 2 3 4 | OK UID SEARCH completed",
        "* SEARCH 2 5 6 | OK UID SEARCH completed",
        "* SEARCH 4 | OK SEARCH completed",
        "* SEARCH 3 4 | OK UID SEARCH completed",
        '* ESEARCH (TAG "X") UID MIN 2 MAX 6 COUNT 3 ALL 2,5:6 | OK UID SEARCH completed',
        "OK UID SEARCH completed",
        "* SEARCH 3 | OK UID SEARCH completed",
        "* SEARCH 2 5 6 | OK UID SEARCH completed",
    ],
}


def answers(client: imaplib.IMAP4) -> list[str]:
    out = []
    for query in QUERIES:
        lines = search(client, query)
        out.append(" | ".join(_untag(line).decode() for line in lines))
    return out


def _untag(line: bytes) -> bytes:
    if line.startswith(b'* ESEARCH (TAG "'):
        return b'* ESEARCH (TAG "X")' + line.split(b")", 1)[1]
    return line


def test_flag_searches_after_other_sessions_changes(mail):
    mine, other = login(mail), login(mail)
    try:
        seen = {"start": answers(mine)}
        raw(other, b"UID STORE 1,3 +FLAGS.SILENT (\\Seen)")
        raw(other, b"UID STORE 2 +FLAGS.SILENT (\\Flagged $Work)")
        seen["changed elsewhere"] = answers(mine)
        raw(mine, b"NOOP")
        seen["after NOOP"] = answers(mine)
        raw(other, b"UID STORE 1 +FLAGS.SILENT (\\Deleted)")
        raw(other, b"EXPUNGE")
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: new\r\n\r\nx\r\n")
        seen["expunged and added elsewhere"] = answers(mine)
        raw(mine, b"UID STORE 4 +FLAGS.SILENT (\\Seen \\Flagged)")
        seen["stored here"] = answers(mine)
        raw(mine, b"NOOP")
        seen["after the second NOOP"] = answers(mine)
        for point, expected in EXPECTED.items():
            assert dict(zip(QUERIES, seen[point], strict=True)) == dict(
                zip(QUERIES, expected, strict=True)
            ), point
    finally:
        mine.logout()
        other.logout()
