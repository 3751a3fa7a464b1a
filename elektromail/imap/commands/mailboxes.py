"""Mailbox commands of the authenticated state (RFC 9051 §6.3): SELECT, EXAMINE, CREATE
(with RFC 6154 CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE and NAMESPACE.
LIST and LSUB are in `listing`, STATUS in `status`."""

from __future__ import annotations

import unicodedata
from operator import itemgetter

from elektromail.imap import format as fmt
from elektromail.imap.args import (
    atom,
    decode_mailbox,
    expect_count,
    format_mailbox,
    mailbox_name,
    new_mailbox_name,
    no_such_mailbox,
    paren_list,
)
from elektromail.imap.commands.condstore import highestmodseq_response
from elektromail.imap.commands.qresync import SelectOptions, parse_select_options, resync
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, No, advertise, command
from elektromail.imap.objectids import mailboxid_code, mailboxid_response
from elektromail.imap.session import Dialect, flags_responses
from elektromail.imap.view import MailboxView
from elektromail.names import DELIMITER, INBOX, canonical_mailbox
from elektromail.store.errors import (
    MailboxExists,
    MailboxHasChildren,
    MailboxIntoItself,
    NoSuchMailbox,
)

advertise("NAMESPACE", "CREATE-SPECIAL-USE")

# The special uses a mailbox can be created with. \All and \Flagged name virtual mailboxes,
# which this server does not have: CREATE answers NO [USEATTR] for them.
USE_ATTRIBUTES = {a.lower(): a for a in ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")}
KNOWN_USE_ATTRIBUTES = {*USE_ATTRIBUTES, "\\all", "\\flagged"}

NONEXISTENT_TEXT = "Mailbox does not exist"


@command("SELECT", AUTH)
async def select(ctx: Context, args: list[Argument]) -> Done:
    return await _open(ctx, args, readonly=False)


@command("EXAMINE", AUTH)
async def examine(ctx: Context, args: list[Argument]) -> Done:
    return await _open(ctx, args, readonly=True)


async def _open(ctx: Context, args: list[Argument], *, readonly: bool) -> Done:
    session = ctx.session
    options = SelectOptions()
    if len(args) == 2 and isinstance(args[1], list):  # RFC 4466 §2.1 select-params
        options = parse_select_options(args[1], qresync_enabled=session.dialect.qresync)
    else:
        expect_count(args, 1, f"{ctx.name} mailbox")
    name = mailbox_name(args[0], session.dialect)
    was_selected = session.view is not None
    session.unselect()  # a failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2)
    if options.condstore or options.resync is not None:
        session.dialect.condstore = True  # a CONDSTORE enabling command (RFC 7162 §3.1)
    # RFC 7162 §3.2.11: a QRESYNC-aware session is told the old mailbox is closed, as rev2 is
    if was_selected and (session.dialect.rev2 or session.dialect.qresync):
        ctx.write(fmt.untagged_status(fmt.OK, "Previous mailbox closed", fmt.CLOSED))
    postoffice = ctx.services.postoffice
    mailbox = await postoffice.find_mailbox(session.user, name)
    if mailbox is None:
        raise no_such_mailbox(name, NONEXISTENT_TEXT, fmt.NONEXISTENT)
    early = session.watch(mailbox.id)
    # \Recent is IMAP4rev1's (RFC 9051 Appendix E): a rev2 session neither sees nor takes it,
    # so a rev1 client still finds its new mail recent. EXAMINE looks without taking.
    rev1 = not session.dialect.rev2
    claim = rev1 and not readonly
    # Other processes share the store: the session to take a message may be in any of them,
    # so the store decides (RFC 3501 §2.3.2: recent in one session only).
    in_store = rev1 and postoffice.events.shared
    read_recent = None
    if in_store:
        row, messages, first_recent = await postoffice.open_recent_shared(mailbox.id, claim=claim)

        def read_recent(mailbox_id: int, uid: int):
            return postoffice.arrivals_shared(mailbox_id, uid, claim=claim)

    else:
        row, messages = await postoffice.mailbox_view(mailbox.id)
        first_recent = postoffice.open_recent(row, claim=claim) if rev1 else None
    view = MailboxView(
        row.id,
        row.name,
        row.uidvalidity,
        row.uidnext,
        _parsed_flags(messages),
        readonly,
        first_recent,
    )
    arrival = None
    if rev1 and not in_store:

        def arrival(uid: int) -> bool:
            return postoffice.recent_arrival(row.id, uid, claim=claim)

    session.select(view, early, arrival, postoffice.messages_after, read_recent)
    ctx.write(_select_responses(view, session.dialect) + mailboxid_response(row.objectid))
    if session.dialect.condstore:  # RFC 7162 §3.1.2.1, after the others as from Dovecot
        ctx.write(highestmodseq_response(row.highestmodseq))
    if options.resync is not None:
        await resync(ctx, view, options.resync, row.highestmodseq)
    return Done(f"{ctx.name} completed", fmt.READ_ONLY if readonly else fmt.READ_WRITE)


def _parsed_flags(messages: list[tuple[int, str]]) -> dict[int, tuple[str, ...]]:
    """uid -> flags from the stored (uid, flags text), in UID order: one tuple per distinct
    text, shared, since most messages of a large mailbox have the same few flags; built by
    maps and zips rather than a Python step per message (SELECT of 100,000)."""
    texts = list(map(itemgetter(1), messages))
    known = {text: tuple(text.split()) for text in set(texts)}
    return dict(zip(map(itemgetter(0), messages), map(known.__getitem__, texts), strict=True))


def _select_responses(view: MailboxView, dialect: Dialect) -> bytes:
    """RFC 9051 §6.3.2's untagged responses (RFC 3501 §6.3.1's RECENT and UNSEEN in rev1)."""
    flags, permanent = flags_responses(view)
    lines = [flags, fmt.untagged(b"%d EXISTS" % view.exists)]
    if not dialect.rev2:
        lines.append(fmt.untagged(b"%d RECENT" % len(view.recent)))
        unseen = view.first_unseen()
        if unseen is not None:
            lines.append(_ok_with(fmt.UNSEEN, b"%d" % unseen, "First unseen"))
    lines += [
        _ok_with(fmt.UIDVALIDITY, b"%d" % view.uidvalidity, "UIDs valid"),
        _ok_with(fmt.UIDNEXT, b"%d" % view.uidnext, "Predicted next UID"),
        permanent,
    ]
    if dialect.rev2:
        lines.append(fmt.untagged(b'LIST () "/" ' + format_mailbox(view.name, dialect)))
    return b"".join(lines)


def _ok_with(code: str, data: bytes, text: str) -> bytes:
    return fmt.untagged_status(fmt.OK, text, fmt.format_response_code(code, data))


# --- CREATE, DELETE, RENAME ---------------------------------------------------------------


@command("CREATE", AUTH)
async def create(ctx: Context, args: list[Argument]) -> Done:
    if len(args) not in (1, 2):
        raise Bad("expected CREATE mailbox [(USE (attributes))]")
    session = ctx.session
    supplied = decode_mailbox(args[0], session.dialect)
    name = new_mailbox_name(canonical_mailbox(supplied))
    special_use = _special_use(args[1]) if len(args) == 2 else None
    if name == INBOX:
        raise No("INBOX always exists", fmt.ALREADYEXISTS)
    try:
        made = await ctx.services.postoffice.create_mailbox(
            session.user, name, special_use, origin=session
        )
    except MailboxExists:
        raise No("Mailbox already exists", fmt.ALREADYEXISTS) from None
    if session.dialect.rev2 and unicodedata.normalize("NFC", supplied) != supplied:
        # RFC 9051 §6.3.4: the name was stored in NFC; say so with OLDNAME
        oldname = b' ("OLDNAME" (' + fmt.astring(supplied, utf8_ok=True) + b"))"
        ctx.write(fmt.untagged(b'LIST () "/" ' + format_mailbox(name, session.dialect) + oldname))
    return Done("CREATE completed", mailboxid_code(made.objectid))  # RFC 8474 §4.1


def _special_use(token: object) -> str | None:
    """The RFC 6154 §3 `USE (...)` create parameter: the canonical attributes, or None."""
    params = paren_list(token, "CREATE parameters")
    if not params:
        raise Bad("empty CREATE parameter list")
    uses: list[str] = []
    for i in range(0, len(params), 2):
        name = atom(params[i], "CREATE parameter").upper()
        if name != "USE" or i + 1 >= len(params):
            raise Bad(f"unknown CREATE parameter {name}")
        for attribute in paren_list(params[i + 1], "USE attributes"):
            text = atom(attribute, "special-use attribute")
            if not text.startswith("\\") or len(text) < 2:
                raise Bad(f"invalid special-use attribute {text}")
            canonical = USE_ATTRIBUTES.get(text.lower())
            if canonical is None:
                kind = "unsupported" if text.lower() in KNOWN_USE_ATTRIBUTES else "unknown"
                raise No(f"{kind} special-use attribute {text}", fmt.USEATTR)
            uses.append(canonical)
    return " ".join(dict.fromkeys(uses)) or None


@command("DELETE", AUTH)
async def delete(ctx: Context, args: list[Argument]) -> Done:
    """A mailbox with children is refused with HASCHILDREN (RFC 9051 §6.3.5 allows it; Dovecot
    does it), so no name is ever left as a \\Noselect shell. Subscriptions stay (§6.3.7)."""
    expect_count(args, 1, "DELETE mailbox")
    session = ctx.session
    name = mailbox_name(args[0], session.dialect)
    if name == INBOX:
        raise No("INBOX cannot be deleted", fmt.CANNOT)
    try:
        mailbox = await ctx.services.postoffice.delete_mailbox(session.user, name, origin=session)
    except NoSuchMailbox:
        raise no_such_mailbox(name, NONEXISTENT_TEXT, fmt.NONEXISTENT) from None
    except MailboxHasChildren:
        raise No("Mailbox has children, delete them first", fmt.HASCHILDREN) from None
    if session.view is not None and session.view.mailbox_id == mailbox.id:
        session.unselect()
        ctx.write(fmt.untagged_status(fmt.OK, "Selected mailbox was deleted", fmt.CLOSED))
    return Done("DELETE completed")


@command("RENAME", AUTH)
async def rename(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 2, "RENAME mailbox new-name")
    session = ctx.session
    old = mailbox_name(args[0], session.dialect)
    new = new_mailbox_name(mailbox_name(args[1], session.dialect))
    try:
        renamed = await ctx.services.postoffice.rename_mailbox(
            session.user, old, new, origin=session
        )
    except NoSuchMailbox:
        raise no_such_mailbox(old, NONEXISTENT_TEXT, fmt.NONEXISTENT) from None
    except MailboxExists:
        raise No("Target mailbox already exists", fmt.ALREADYEXISTS) from None
    except MailboxIntoItself:
        raise No("Cannot move a mailbox under itself", fmt.CANNOT) from None
    # Renaming INBOX leaves it in place, empty: its sessions (this one too) were told with
    # EXPUNGEs by the post office.
    if renamed.inbox_id is None and session.view is not None:
        # the selected mailbox keeps its identity (and UIDs) under its new name
        session.view.name = dict(renamed.names).get(session.view.name, session.view.name)
    return Done("RENAME completed")


# --- subscriptions and namespaces ---------------------------------------------------------


@command("SUBSCRIBE", AUTH)
async def subscribe(ctx: Context, args: list[Argument]) -> Done:
    """An existing mailbox: RFC 9051 §6.3.7 "A server MAY validate the mailbox argument to
    SUBSCRIBE to verify that it exists", and Dovecot does (NO). A subscribed name whose mailbox
    is deleted later stays subscribed, listed \\NonExistent."""
    expect_count(args, 1, "SUBSCRIBE mailbox")
    session = ctx.session
    name = new_mailbox_name(mailbox_name(args[0], session.dialect))
    postoffice = ctx.services.postoffice
    if await postoffice.find_mailbox(session.user, name) is None:
        raise No(NONEXISTENT_TEXT, fmt.NONEXISTENT)
    await postoffice.subscribe(session.user, name, origin=session)
    return Done("SUBSCRIBE completed")


@command("UNSUBSCRIBE", AUTH)
async def unsubscribe(ctx: Context, args: list[Argument]) -> Done:
    """OK whether or not the name was subscribed (RFC 9051 §6.3.8; Dovecot agrees)."""
    expect_count(args, 1, "UNSUBSCRIBE mailbox")
    session = ctx.session
    name = mailbox_name(args[0], session.dialect)
    if len(name) > 1 and name.endswith(DELIMITER):
        name = name[:-1]  # as SUBSCRIBE stored it
    await ctx.services.postoffice.unsubscribe(session.user, name, origin=session)
    return Done("UNSUBSCRIBE completed")


@command("NAMESPACE", AUTH)
async def namespace(ctx: Context, args: list[Argument]) -> Done:
    """One personal namespace with no prefix; no other users' or shared ones (RFC 2342)."""
    if args:
        raise Bad("NAMESPACE takes no arguments")
    ctx.write(fmt.untagged(b'NAMESPACE (("" "/")) NIL NIL'))
    return Done("NAMESPACE completed")
