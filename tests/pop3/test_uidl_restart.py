"""UIDL is stable across restarts with ELEKTROMAIL_DB (RFC 1939 §7: "the unique-id of a message
... persists across sessions"), and it is the IMAP UID and UIDVALIDITY (Dovecot's default
pop3_uidl_format, %08Xu%08Xv)."""

from __future__ import annotations

import imaplib
import poplib

from elektromail.testing import MailServer


def uidls(server: MailServer) -> list[bytes]:
    pop = poplib.POP3(server.host, server.pop3_port, timeout=10)
    pop.user("user")
    pop.pass_("pass")
    _, lines, _ = pop.uidl()
    pop.quit()
    return lines


def test_uidl_survives_a_restart(tmp_path):
    db = tmp_path / "mail.db"
    with MailServer(db=db) as server:
        server.inject("user", b"Subject: one\r\n\r\n1\r\n")
        server.inject("user", b"Subject: two\r\n\r\n2\r\n")
        before = uidls(server)
    with MailServer(db=db) as server:
        after = uidls(server)
        with imaplib.IMAP4(server.host, server.imap_port) as imap:
            imap.login("user", "pass")
            imap.select("INBOX")
            uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
            _, data = imap.uid("SEARCH", "ALL")
    assert before == after and len(after) == 2
    uids = [int(u) for u in data[0].split()]
    assert after == [b"%d %08X%08X" % (n, uid, uidvalidity) for n, uid in enumerate(uids, 1)]
