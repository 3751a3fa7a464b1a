"""GETQUOTA and GETQUOTAROOT (RFC 9208 §4.1.1, §4.1.2): one quota root per user, "User quota"
as Dovecot names it, over all of the user's mailboxes, with STORAGE (in units of 1024 octets)
and MESSAGE. Limits are the server's settings or the user's own (the HTTP users API); the
IMAP side cannot change them: SETQUOTA is answered NO as Dovecot answers a user (QUOTASET is
not advertised)."""

from __future__ import annotations

from elektromail.imap import format as fmt
from elektromail.imap.args import astring, expect_count, format_mailbox, mailbox_name
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, No, advertise, command
from elektromail.postoffice.quotas import Quota

advertise("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", states=AUTH)

ROOT = "User quota"


def quota_line(quota: Quota) -> bytes:
    """`* QUOTA "User quota" (STORAGE 10 512 MESSAGE 3 100)`: the limited resources only
    (RFC 9208 §4.2.1: "Resources not named in the list are not limited"); STORAGE in units of
    1024 octets, rounded down (as Dovecot)."""
    resources = []
    if quota.storage_limit is not None:
        resources.append(f"STORAGE {quota.storage_used // 1024} {quota.storage_limit // 1024}")
    if quota.messages_limit is not None:
        resources.append(f"MESSAGE {quota.messages_used} {quota.messages_limit}")
    return fmt.untagged(
        b"QUOTA " + fmt.string(ROOT) + b" (" + " ".join(resources).encode("ascii") + b")"
    )


@command("GETQUOTA", AUTH)
async def getquota(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 1, "GETQUOTA quota-root")
    root = astring(args[0], "quota root")
    if root != ROOT:
        # RFC 9208 §4.1.1: "NO - getquota error: no such quota root"
        raise No("Quota root does not exist", fmt.NONEXISTENT)
    session = ctx.session
    assert session.user is not None
    quota = await ctx.services.postoffice.quota(session.user.name)
    ctx.write(quota_line(quota))
    return Done("GETQUOTA completed")


@command("GETQUOTAROOT", AUTH)
async def getquotaroot(ctx: Context, args: list[Argument]) -> Done:
    """RFC 9208 §4.1.2: "the mailbox name parameter doesn't have to reference an existing
    mailbox": every name of the user's has the one root."""
    expect_count(args, 1, "GETQUOTAROOT mailbox")
    session = ctx.session
    assert session.user is not None
    name = mailbox_name(args[0], session.dialect)
    quota = await ctx.services.postoffice.quota(session.user.name)
    ctx.write(
        fmt.untagged(
            b"QUOTAROOT " + format_mailbox(name, session.dialect) + b" " + fmt.string(ROOT)
        )
    )
    ctx.write(quota_line(quota))
    return Done("GETQUOTAROOT completed")


@command("SETQUOTA", AUTH)
async def setquota(ctx: Context, args: list[Argument]) -> Done:
    """RFC 9208 §4.1.3: "NO - setquota error: can't set that data". Well-formed arguments (a
    quota root and a list of resource limits) are refused as Dovecot refuses a user who is not
    its admin; the limits are set through the HTTP users API."""
    expect_count(args, 2, "SETQUOTA quota-root (resource limit ...)")
    astring(args[0], "quota root")
    if not isinstance(args[1], list):
        raise Bad("resource limits must be a parenthesized list")
    raise No("Quota can be changed only by admin", fmt.NOPERM)
