"""A mail client's QRESYNC resync (RFC 7162 §3.2.5, §3.2.6) through imapclient, after changes
made while it was away: flags changed, messages expunged, messages added by SMTP and over the
HTTP API. The client's cache after the resync must be the server's state, and the resync must
have carried only what changed. The same scenario runs against the reference Dovecot
(127.0.0.1:11143) when it is there, in a scratch mailbox; it skips, saying why, when it is not."""

from __future__ import annotations

import contextlib
import secrets
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

from elektromail.testing import MailServer
from tests.http.client import Api

DOVECOT = ("127.0.0.1", 11143, "user", "pass")


def message(subject: str) -> bytes:
    return (
        f"From: App <app@example.com>\r\nTo: user@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@example.com>\r\n\r\n{subject} body\r\n"
    ).encode()


def uid_set(text: bytes) -> set[int]:
    """`3:4,7` -> {3, 4, 7} (a known-uids or VANISHED set, RFC 7162 §7)."""
    out: set[int] = set()
    for part in text.decode().split(","):
        low, _, high = part.partition(":")
        out.update(range(int(low), int(high or low) + 1))
    return out


def visible(flags) -> frozenset[bytes]:
    """Flags as every session sees them: \\Recent belongs to one session (RFC 3501 §2.3.2)."""
    return frozenset(flag for flag in flags if flag.lower() != b"\\recent")


@dataclass
class Cache:
    """What a syncing client keeps of a mailbox: UIDVALIDITY, HIGHESTMODSEQ and each message's
    flags and mod-sequence by UID."""

    uidvalidity: int = 0
    highestmodseq: int = 0
    uidnext: int = 0
    messages: dict[int, tuple[frozenset[bytes], int]] = field(default_factory=dict)
    vanished: set[int] = field(default_factory=set)  # what the last resync said was expunged
    fetched: set[int] = field(default_factory=set)  # what the last resync sent FETCH for

    def start_resync(self) -> None:
        self.vanished, self.fetched = set(), set()

    def apply(self, fetched: dict, vanished: set[int]) -> None:
        self.vanished |= vanished
        self.fetched |= set(fetched)
        for uid in vanished:
            self.messages.pop(uid, None)
        for uid, data in fetched.items():
            self.messages[uid] = (visible(data[b"FLAGS"]), data[b"MODSEQ"][0])


class Target:
    """A server, the mailbox of the scenario, and how mail and changes get there while the
    client is away."""

    name = ""
    host = "127.0.0.1"
    port = 0
    user, password = "user", "pass"
    mailbox = "INBOX"

    def connect(self) -> IMAPClient:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    @contextlib.contextmanager
    def session(self) -> Iterator[IMAPClient]:
        client = self.connect()
        try:
            yield client
        finally:
            client.logout()

    def deliver_by_smtp(self, raw: bytes) -> None:
        raise NotImplementedError

    def deliver_by_api(self, raw: bytes) -> None:
        raise NotImplementedError

    def flag_by_api(self, uid: int) -> None:
        raise NotImplementedError

    def delete_by_api(self, uid: int) -> None:
        raise NotImplementedError

    def api_state(self) -> dict[int, tuple[frozenset[bytes], int]] | None:
        return None  # a server without a control API


class Elektromail(Target):
    name = "elektromail"

    def __init__(self, mail: MailServer) -> None:
        self.mail, self.port, self.api = mail, mail.imap_port, Api(mail)

    def deliver_by_smtp(self, raw: bytes) -> None:
        with smtplib.SMTP(self.mail.host, self.mail.smtp_port, timeout=10) as smtp:
            smtp.sendmail("app@example.com", ["user@example.com"], raw)

    def deliver_by_api(self, raw: bytes) -> None:
        self.api.inject(raw.decode(), mailbox=self.mailbox)

    def flag_by_api(self, uid: int) -> None:
        answer = self.api.patch(f"/messages/{uid}?user=user&mailbox=INBOX", {"seen": True})
        assert answer.status == 200, answer.body

    def delete_by_api(self, uid: int) -> None:
        answer = self.api.delete(f"/messages/{uid}?user=user&mailbox=INBOX")
        assert answer.status == 200, answer.body

    def api_state(self) -> dict[int, tuple[frozenset[bytes], int]]:
        answer = self.api.get("/messages?user=user&mailbox=INBOX")
        assert answer.status == 200, answer.body
        return {
            item["uid"]: (frozenset(flag.encode() for flag in item["flags"]), item["modseq"])
            for item in answer.json()["messages"]
        }


class Dovecot(Target):
    """Dovecot has no HTTP API, and its SMTP (Postfix, when started) delivers only to INBOX,
    which other users of the reference share: here what arrives by SMTP or the API is
    APPENDed to the scratch mailbox by another session, and the API's flag change and delete
    are another session's STORE and UID EXPUNGE, all of them changes the client did not see."""

    name = "dovecot"

    def __init__(self) -> None:
        self.host, self.port, self.user, self.password = DOVECOT
        self.mailbox = f"qresync-{secrets.token_hex(4)}"

    def deliver_by_smtp(self, raw: bytes) -> None:
        with self.session() as other:
            other.append(self.mailbox, raw)

    deliver_by_api = deliver_by_smtp

    def flag_by_api(self, uid: int) -> None:
        with self.session() as other:
            other.select_folder(self.mailbox)
            other.add_flags([uid], [b"\\Seen"])

    def delete_by_api(self, uid: int) -> None:
        with self.session() as other:
            other.select_folder(self.mailbox)
            other.add_flags([uid], [b"\\Deleted"])
            other.uid_expunge([uid])


def dovecot_listening() -> bool:
    try:
        with socket.create_connection(DOVECOT[:2], timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["elektromail", "dovecot"])
def target(request) -> Iterator[Target]:
    if request.param == "elektromail":
        with MailServer() as mail:
            yield Elektromail(mail)
        return
    if not dovecot_listening():
        pytest.skip(
            "the reference Dovecot is not listening on 127.0.0.1:11143"
            " (start it with ../shared/reference/start-dovecot.sh)"
        )
    dovecot = Dovecot()
    with dovecot.session() as admin:
        admin.create_folder(dovecot.mailbox)
    try:
        yield dovecot
    finally:
        with dovecot.session() as admin:
            admin.delete_folder(dovecot.mailbox)


def full_sync(target: Target) -> Cache:
    """The client's first visit: everything, with the mod-sequences to resync from later."""
    client = target.connect()
    try:
        client.enable("QRESYNC")
        selected = client.select_folder(target.mailbox)
        cache = Cache(selected[b"UIDVALIDITY"], selected[b"HIGHESTMODSEQ"], selected[b"UIDNEXT"])
        # imapclient 4 keeps only the answers for the messages it names: not `1:*`
        cache.apply(client.fetch(client.search("ALL"), ["FLAGS", "MODSEQ"]), set())
    finally:
        client.logout()
    return cache


def resync_by_select(target: Target, cache: Cache) -> None:
    """RFC 7162 §3.2.5: SELECT mailbox (QRESYNC (uidvalidity modseq known-uids)), which
    reports "flag changes and expunges for the specified messages" (§3.2.5.1); what arrived
    since is above the UIDNEXT the client knew, fetched next. imapclient has no QRESYNC
    parameter to SELECT: that one command goes through the imaplib connection it wraps
    (imaplib sends the mailbox argument as given); its answers are read by imapclient's own
    FETCH parser."""
    cache.start_resync()
    client = target.connect()
    try:
        client.enable("QRESYNC")
        known = ",".join(map(str, sorted(cache.messages)))
        argument = (
            f'"{target.mailbox}" (QRESYNC ({cache.uidvalidity} {cache.highestmodseq} {known}))'
        )
        imap = client._imap
        status, _ = imap.select(argument)
        assert status == "OK", imap.untagged_responses
        untagged = imap.untagged_responses
        fetched = parse_fetch_response(untagged.pop("FETCH", []), uid_is_key=True)
        cache.apply(fetched, vanished_of(untagged.pop("VANISHED", []), earlier=True))
        cache.highestmodseq = int(untagged["HIGHESTMODSEQ"][0])
        uidnext = int(untagged["UIDNEXT"][0])
        if cache.uidvalidity == int(untagged["UIDVALIDITY"][0]) and uidnext > cache.uidnext:
            new = [
                uid for uid in client.search(["UID", f"{cache.uidnext}:*"]) if uid >= cache.uidnext
            ]
            cache.apply(client.fetch(new, ["FLAGS", "MODSEQ"]), set())
        cache.uidnext = uidnext
    finally:
        client.logout()


def resync_by_fetch(target: Target, cache: Cache) -> None:
    """RFC 7162 §3.2.6: after a plain SELECT, `UID FETCH uids (FLAGS) (CHANGEDSINCE modseq
    VANISHED)`, with imapclient's fetch modifiers."""
    cache.start_resync()
    client = target.connect()
    try:
        client.enable("QRESYNC")
        selected = client.select_folder(target.mailbox)
        assert selected[b"UIDVALIDITY"] == cache.uidvalidity
        # the UIDs it knows (VANISHED reports those expunged) and those there now
        asked = sorted(set(cache.messages) | set(client.search("ALL")))
        fetched = client.fetch(
            asked, ["FLAGS"], modifiers=[f"CHANGEDSINCE {cache.highestmodseq}", "VANISHED"]
        )
        vanished = vanished_of(client._imap.untagged_responses.pop("VANISHED", []), earlier=True)
        cache.apply(fetched, vanished)
        cache.highestmodseq, cache.uidnext = selected[b"HIGHESTMODSEQ"], selected[b"UIDNEXT"]
    finally:
        client.logout()


def vanished_of(lines: list[bytes], *, earlier: bool) -> set[int]:
    """The UIDs of `* VANISHED (EARLIER) set` responses (RFC 7162 §3.2.10)."""
    out: set[int] = set()
    for line in lines:
        marked = line.upper().startswith(b"(EARLIER) ")
        assert marked == earlier, line
        out |= uid_set(line.split(b" ")[-1])
    return out


def server_state(target: Target) -> tuple[dict[int, tuple[frozenset[bytes], int]], int]:
    """Every message's flags and mod-sequence, and HIGHESTMODSEQ, as a new session sees them."""
    client = target.connect()
    try:
        client.enable("CONDSTORE")
        selected = client.select_folder(target.mailbox, readonly=True)
        found = client.fetch(client.search("ALL"), ["FLAGS", "MODSEQ"])
        state = {uid: (visible(d[b"FLAGS"]), d[b"MODSEQ"][0]) for uid, d in found.items()}
        return state, selected[b"HIGHESTMODSEQ"]
    finally:
        client.logout()


def fill(target: Target, count: int) -> list[int]:
    client = target.connect()
    try:
        for i in range(count):
            client.append(target.mailbox, message(f"before {i}"))
        client.select_folder(target.mailbox)
        return sorted(client.search("ALL"))
    finally:
        client.logout()


@pytest.mark.parametrize("resync", [resync_by_select, resync_by_fetch], ids=["select", "fetch"])
def test_a_client_resyncs_what_changed_while_it_was_away(target, resync):
    uids = fill(target, 8)
    cache = full_sync(target)
    assert set(cache.messages) == set(uids)
    before = dict(cache.messages)

    # While the client is away: another session changes flags and expunges, the control API
    # marks one seen and deletes one, and mail arrives by SMTP and over the API.
    other = target.connect()
    other.select_folder(target.mailbox)
    other.add_flags([uids[1]], [b"\\Flagged"])
    other.remove_flags([uids[1]], [b"\\Flagged"])  # changed back: a new modseq, same flags
    other.add_flags([uids[2], uids[3]], [b"\\Answered", b"$Forwarded"])
    other.add_flags([uids[4]], [b"\\Deleted"])
    other.uid_expunge([uids[4]])
    other.logout()
    target.flag_by_api(uids[5])
    target.delete_by_api(uids[6])
    target.deliver_by_smtp(message("by SMTP"))
    target.deliver_by_api(message("over the API"))

    resync(target, cache)

    state, highest = server_state(target)
    assert cache.messages == state
    assert cache.highestmodseq == highest
    assert cache.vanished == {uids[4], uids[6]}
    added = set(state) - set(uids)
    assert len(added) == 2
    # only what changed came: the unchanged messages were not sent again (RFC 7162 §3.2.5.1)
    assert cache.fetched == {uids[1], uids[2], uids[3], uids[5]} | added
    assert {uid: before[uid] for uid in (uids[0], uids[7])} == {
        uid: state[uid] for uid in (uids[0], uids[7])
    }
    assert state[uids[2]][0] == before[uids[2]][0] | {b"\\Answered", b"$Forwarded"}
    assert b"\\Seen" in state[uids[5]][0]
    assert state[uids[1]][0] == before[uids[1]][0] and state[uids[1]][1] > before[uids[1]][1]
    api = target.api_state()
    if api is not None:  # the server's own account of it agrees
        assert api == state


def test_a_resync_after_nothing_changed_carries_nothing(target):
    fill(target, 3)
    cache = full_sync(target)
    before = dict(cache.messages)
    resync_by_select(target, cache)
    assert (cache.fetched, cache.vanished, cache.messages) == (set(), set(), before)


def test_a_resync_with_a_stale_uidvalidity_is_a_full_sync(target):
    # RFC 7162 §3.2.5.1: with another UIDVALIDITY the server sends no VANISHED and no FETCH
    fill(target, 2)
    cache = full_sync(target)
    cache.uidvalidity += 1
    target.deliver_by_api(message("meanwhile"))
    resync_by_select(target, cache)
    assert (cache.fetched, cache.vanished) == (set(), set())


def test_a_resync_across_a_restart_of_the_server(tmp_path):
    # the mod-sequences and the expunged UIDs VANISHED reports are kept with ELEKTROMAIL_DB
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        target = Elektromail(mail)
        uids = fill(target, 4)
        cache = full_sync(target)
    with MailServer(db=db) as mail:
        target = Elektromail(mail)
        target.delete_by_api(uids[0])
        target.flag_by_api(uids[1])
        target.deliver_by_smtp(message("after the restart"))
        resync_by_select(target, cache)
        state, highest = server_state(target)
    assert (cache.messages, cache.highestmodseq) == (state, highest)
    assert cache.vanished == {uids[0]} and len(set(state) - set(uids)) == 1
