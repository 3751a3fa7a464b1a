"""STATUS (RFC 9051 §6.3.11, RFC 8438 STATUS=SIZE, RFC 9208 §4.1.4 DELETED-STORAGE) and the
STATUS lines LIST-STATUS sends."""

from __future__ import annotations

from elektromail.imap import format as fmt
from elektromail.imap.args import expect_count, format_mailbox, mailbox_name, no_such_mailbox
from elektromail.imap.commands.condstore import start_condstore
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, advertise, command
from elektromail.imap.objectids import status_mailboxid
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom, shown
from elektromail.store.mailboxes import MailboxCounts, MailboxRow

advertise("STATUS=SIZE")

# Answered in this order whatever order they were asked in (as Dovecot does).
# HIGHESTMODSEQ: RFC 7162 §3.1.7.
ITEMS = (
    "MESSAGES",
    "RECENT",
    "UIDNEXT",
    "UIDVALIDITY",
    "UNSEEN",
    "HIGHESTMODSEQ",
    "DELETED",
    "DELETED-STORAGE",
    "SIZE",
    "MAILBOXID",
)
# RECENT is IMAP4rev1 only (RFC 9051 Appendix E item 12); DELETED, SIZE and DELETED-STORAGE
# come from IMAP4rev2, RFC 8438 and RFC 9208 (QUOTA=RES-STORAGE) and are offered in both
# dialects. DELETED-STORAGE is in octets: the sum of the \Deleted messages' RFC822.SIZE, which
# RFC 9208 §4.1.4 allows and which is what an EXPUNGE frees of the user's STORAGE here.
# MAILBOXID: RFC 8474 §4.3.
REV1_ONLY = frozenset({"RECENT"})


def parse_items(token: object, dialect: Dialect) -> tuple[str, ...]:
    """The status data item names of a parenthesized list: BAD when empty or unknown."""
    if not isinstance(token, list):
        raise Bad("status items must be a parenthesized list")
    if not token:
        raise Bad("empty status item list")
    wanted = set()
    for item in token:
        if not isinstance(item, Atom):
            # a string or a list where an item name belongs; Dovecot: "Status list contains
            # non-atoms"
            raise Bad(f"status items must be atoms, not {shown(item)}")
        name = item.upper()
        if name not in ITEMS or (dialect.rev2 and name in REV1_ONLY):
            raise Bad(f"unknown status item {shown(item)}")
        wanted.add(name)
    return tuple(name for name in ITEMS if name in wanted)


def status_line(
    name: str, row: MailboxRow, counts: MailboxCounts, items: tuple[str, ...], dialect: Dialect
) -> bytes:
    """`* STATUS name (MESSAGES 3 UNSEEN 1)`. RECENT counts the messages no read-write
    SELECT has seen yet: the ones the next SELECT will see as \\Recent (RFC 3501 §6.3.10)."""
    values = {
        "MESSAGES": counts.messages,
        "RECENT": counts.recent,
        "UIDNEXT": row.uidnext,
        "UIDVALIDITY": row.uidvalidity,
        "UNSEEN": counts.unseen,
        "DELETED": counts.deleted,
        "SIZE": counts.size,
        "DELETED-STORAGE": counts.deleted_storage,
        "HIGHESTMODSEQ": row.highestmodseq,
        "MAILBOXID": status_mailboxid(row.objectid),  # RFC 8474 §4.3
    }
    pairs = " ".join(f"{item} {values[item]}" for item in items).encode("ascii")
    return fmt.untagged(b"STATUS " + format_mailbox(name, dialect) + b" (" + pairs + b")")


@command("STATUS", AUTH)
async def status(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 2, "STATUS mailbox (items)")
    session = ctx.session
    name = mailbox_name(args[0], session.dialect)
    items = parse_items(args[1], session.dialect)
    if "HIGHESTMODSEQ" in items:  # a CONDSTORE enabling command (RFC 7162 §3.1)
        await start_condstore(ctx)
    found = await ctx.services.postoffice.mailbox_status(session.user, name)
    if found is None:
        raise no_such_mailbox(name, "Mailbox does not exist", fmt.NONEXISTENT)
    row, counts = found
    ctx.write(status_line(row.name, row, counts, items, session.dialect))
    if session.view is not None and session.view.mailbox_id == row.id:
        # allowed, but the selected mailbox's state comes with untagged responses (Dovecot)
        return Done("STATUS on the selected mailbox completed", fmt.CLIENTBUG)
    return Done("STATUS completed")
