"""RFC 9051 §6.3.12 APPEND, with APPENDUID (RFC 4315 UIDPLUS for IMAP4rev1 servers),
TRYCREATE, non-synchronizing literals (RFC 7888) and the UTF8 data extension (RFC 6855)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_code,
    assert_no,
    assert_not_ok,
    assert_ok,
    assert_status_items,
    assert_still_usable,
    exists_count,
    flag_set,
    has_capability,
    listed,
    require,
)
from tests.rfc9051.client import Literal, quote
from tests.rfc9051.fixtures import (
    ALL,
    BARE_BODY,
    NUL_OCTETS,
    NUL_OCTETS_BODY,
    PLAIN,
    UTF8_HEADERS,
    sized,
)
from tests.rfc9051.response import fetch_items

# The in-process server gets a small message size limit, so that TOOBIG is cheap to test, and
# RFC 6855's refusal of 8-bit headers, which elektromail applies only when asked to.
ELEKTROMAIL_SETTINGS = {"max_message_size": 64 * 1024, "strict_utf8_append": True}


def appenduid_expected(client, target) -> bool:
    """RFC 9051 §6.3.12 (IMAP4rev2) or RFC 4315 (UIDPLUS): APPEND answers with APPENDUID."""
    return client.dialect == "rev2" or "UIDPLUS" in target.capabilities


def messages(client, name: str) -> int:
    result = client.status(name, "MESSAGES")
    assert_ok(result)
    return assert_status_items(result, name)["MESSAGES"]


def fetch_first(client, name: str, items: str) -> dict[str, object]:
    assert_ok(client.select(name, examine=True))
    result = client.command("FETCH", "1", f"({items})")
    assert_ok(result)
    return fetch_items(result.of("FETCH")[0])


@pytest.mark.parametrize("kind", list(ALL))
def test_append_stores_the_message_octet_for_octet(session, names, kind):
    """RFC 9051 §6.3.12: "The APPEND command appends the literal argument as a new message to
    the end of the specified destination mailbox. [...] 8-bit characters are permitted in the
    message." BODY[] returns it: RFC 9051 §2.3.1.1 "the internal date, RFC822.SIZE, envelope,
    body structure, and message texts (all BODY[...] fetch data items) MUST never change"."""
    name = names.created(session)
    message = ALL[kind]
    assert_ok(session.append(name, message))
    items = fetch_first(session, name, "BODY.PEEK[] RFC822.SIZE")
    assert items["BODY[]"] == message
    assert int(items["RFC822.SIZE"]) == len(message)


def test_append_adds_to_the_end_of_the_mailbox(session, names):
    """RFC 9051 §6.3.12: "The APPEND command appends the literal argument as a new message to
    the end of the specified destination mailbox." """
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    assert_ok(session.append(name, BARE_BODY))
    assert_ok(session.select(name, examine=True))
    result = session.command("FETCH", "2", "(BODY.PEEK[])")
    assert_ok(result)
    assert fetch_items(result.of("FETCH")[0])["BODY[]"] == BARE_BODY


def test_append_without_flags_leaves_the_flag_list_empty(session, names):
    """RFC 9051 §6.3.12: "If a flag parenthesized list is specified, the flags SHOULD be set in
    the resulting message; otherwise, the flag list of the resulting message is set to
    "empty" by default." (\\Recent is a session flag of IMAP4rev1, RFC 3501 §2.3.2.)"""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    flags = flag_set(fetch_first(session, name, "FLAGS")["FLAGS"])
    assert flags - {"\\recent"} == set(), flags


def test_append_with_empty_flag_list_succeeds(session, names):
    """RFC 9051 §9: append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal;
    flag-list = "(" [flag *(SP flag)] ")" — the empty list is valid."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN, flags=""))
    assert messages(session, name) == 1


def test_append_with_date_time_succeeds(session, names):
    """RFC 9051 §6.3.12: "If a date-time is specified, the internal date SHOULD be set in the
    resulting message"; date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
    time SP zone DQUOTE (RFC 9051 §9)."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN, flags="\\Seen", date="07-Feb-1994 21:52:25 -0800"))
    assert messages(session, name) == 1


def test_append_without_date_time_uses_about_now(session, names):
    """RFC 9051 §6.3.12: "otherwise, the internal date of the resulting message is set to the
    current date and time by default." (within a day, to allow for a clock skew between the
    harness and the server)."""
    name = names.created(session)
    assert_ok(session.append(name, PLAIN))
    internal = fetch_first(session, name, "INTERNALDATE")["INTERNALDATE"]
    when = datetime.strptime(str(internal).strip(), "%d-%b-%Y %H:%M:%S %z")
    assert abs((datetime.now(UTC) - when).total_seconds()) < 86400, internal


def test_append_returns_appenduid_matching_the_message(session, target, names):
    """RFC 9051 §6.3.12: "On successful completion of an APPEND, the server returns an
    APPENDUID response code (see Section 7.1)"; RFC 9051 §7.1: "APPENDUID Followed by the
    UIDVALIDITY of the destination mailbox and the UID assigned to the appended message in
    the destination mailbox" (RFC 4315 §3 for IMAP4rev1 servers advertising UIDPLUS)."""
    if not appenduid_expected(session, target):
        pytest.skip("neither IMAP4rev2 nor UIDPLUS")
    name = names.created(session)
    result = session.append(name, PLAIN)
    data = assert_code(assert_ok(result), "APPENDUID", result)
    assert len(data) == 2 and all(re.fullmatch(r"[1-9][0-9]*", str(v)) for v in data), data
    uidvalidity, uid = int(data[0]), int(data[1])
    status = session.status(name, "UIDVALIDITY")
    assert assert_status_items(status, name)["UIDVALIDITY"] == uidvalidity
    assert int(fetch_first(session, name, "UID")["UID"]) == uid


def test_append_uids_ascend(session, target, names):
    """RFC 9051 §2.3.1.1: "as each message is added to the mailbox, it is assigned a higher UID
    than those of all message(s) that are already in the mailbox." (seen through
    APPENDUID)."""
    if not appenduid_expected(session, target):
        pytest.skip("neither IMAP4rev2 nor UIDPLUS")
    name = names.created(session)
    uids = []
    for _ in range(3):
        result = session.append(name, PLAIN)
        uids.append(int(assert_code(assert_ok(result), "APPENDUID", result)[1]))
    assert uids == sorted(uids) and len(set(uids)) == 3, uids


def test_append_to_nonexistent_mailbox_fails_with_trycreate(session, names):
    """RFC 9051 §6.3.12: "If the destination mailbox does not exist, a server MUST return an
    error and MUST NOT automatically create the mailbox. Unless it is certain that the
    destination mailbox cannot be created, the server MUST send the response code
    "[TRYCREATE]" as the prefix of the text of the tagged NO response." """
    name = names.new("missing")
    assert_no(session.append(name, PLAIN), "TRYCREATE")
    assert name not in listed(session.list("", names.base + "*"))
    assert_still_usable(session)


def test_append_after_trycreate_and_create_succeeds(session, names):
    """RFC 9051 §6.3.12: "This gives a hint to the client that it can attempt a CREATE command
    and retry the APPEND if the CREATE is successful." """
    name = names.new("later")
    assert_no(session.append(name, PLAIN), "TRYCREATE")
    assert_ok(session.create(name))
    assert_ok(session.append(name, PLAIN))
    assert messages(session, name) == 1


def test_append_with_invalid_date_time_appends_nothing(session, names):
    """RFC 9051 §6.3.12: "NO - append error: can't append to that mailbox, error in flags or
    date/time or message text"; "If the append is unsuccessful for any reason, the mailbox
    MUST be restored to its state before the APPEND attempt [...]; no partial appending is
    permitted." """
    name = names.created(session)
    result = session.append(name, PLAIN, date="31-Foo-2020 99:99:99 +9999")
    assert_not_ok(result)
    assert_still_usable(session)
    assert messages(session, name) == 0


@pytest.mark.parametrize(
    "flags",
    ['("quoted")', "(\\Seen (nested))", "(\\Seen))"],
    ids=["quoted-flag", "nested-list", "extra-paren"],
)
def test_append_with_malformed_flags_appends_nothing(session, names, flags):
    """RFC 9051 §6.3.12: "BAD - command unknown or arguments invalid"; flag-list = "(" [flag
    *(SP flag)] ")" with flag an atom (RFC 9051 §9); "no partial appending is permitted"."""
    name = names.created(session)
    tag, early = session.send_command("APPEND", quote(name), flags, Literal(PLAIN))
    result = session.read_until_tagged(tag, early)
    assert_not_ok(result)
    assert_still_usable(session)
    assert messages(session, name) == 0


@pytest.mark.dovecot_deviation(
    "neither sends '+' nor rejects APPEND with flags lacking parentheses: it waits"
)
def test_append_with_unparenthesized_flags_is_answered_before_the_literal(session, names):
    """RFC 9051 §2.2.1: "the server sends a command continuation request response if it is
    ready for the octets [...]. Note: If, instead, the server detected an error in the
    command, it sends a BAD completion response with a tag matching the command [...] to
    reject the command and prevent the client from sending any more of the command."
    flag-list = "(" [flag *(SP flag)] ")" (RFC 9051 §9): a bare flag is an error."""
    name = names.created(session)
    session.set_timeout(3)
    tag, early = session.send_command("APPEND", quote(name), "\\Seen", Literal(PLAIN))
    result = session.read_until_tagged(tag, early)
    assert_not_ok(result)
    assert_still_usable(session)
    assert messages(session, name) == 0


@pytest.mark.parametrize(
    "arguments", [(), ("{name}",), ("{name}", "(\\Seen)")], ids=["none", "no-message", "flags-only"]
)
def test_append_without_message_literal_is_bad(session, names, arguments):
    """RFC 9051 §6.3.12: "BAD - command unknown or arguments invalid"; append = "APPEND" SP
    mailbox [SP flag-list] [SP date-time] SP literal (RFC 9051 §9)."""
    name = names.created(session)
    parts = [quote(name) if a == "{name}" else a for a in arguments]
    assert_bad(session.command("APPEND", *parts))
    assert_still_usable(session)
    assert messages(session, name) == 0


def test_append_message_as_quoted_string_is_bad(session, names):
    """RFC 9051 §9: append-data = literal / literal8 / append-data-ext — the message is a
    literal, not a quoted string: "BAD - command unknown or arguments invalid"."""
    name = names.created(session)
    assert_bad(session.command("APPEND", quote(name), quote("Subject: x")))
    assert_still_usable(session)
    assert messages(session, name) == 0


def test_append_to_selected_mailbox_is_reported(session, names):
    """RFC 9051 §6.3.12: "If the mailbox is currently selected, normal new message actions
    SHOULD occur. Specifically, the server SHOULD notify the client immediately via an
    untagged EXISTS response. If the server does not do so, the client MAY issue a NOOP
    command"; RFC 9051 §5.2: "A server MUST send mailbox size updates automatically if a
    mailbox size change is observed during the processing of a command." — by the NOOP at
    the latest."""
    name = names.created(session)
    assert exists_count(session.select(name)) == 0
    result = session.append(name, PLAIN)
    assert_ok(result)
    if not result.of("EXISTS"):
        result = session.command("NOOP")
    assert exists_count(result) == 1


def test_append_in_selected_state_to_another_mailbox(session, names):
    """RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands"; APPEND is one (RFC 9051 §6.3)."""
    selected, other = names.created(session), names.created(session)
    assert_ok(session.select(selected))
    assert_ok(session.append(other, PLAIN))
    assert messages(session, other) == 1


def test_append_mailbox_name_may_be_a_literal(session, names):
    """RFC 9051 §9: append = "APPEND" SP mailbox ...; mailbox = "INBOX" / astring."""
    name = names.created(session)
    assert_ok(session.command("APPEND", Literal(name.encode()), Literal(PLAIN)))
    assert messages(session, name) == 1


@pytest.mark.parametrize("size", [300, 4096, 20000])
def test_append_with_non_synchronizing_literal(session, target, names, size):
    """RFC 7888 §3: "The non-synchronizing literal is distinguished from the original
    synchronizing literal by having a plus ('+') between the octet count and the closing
    brace ('}'). The server does not generate a command continuation request in response to
    a non-synchronizing literal"; LITERAL- (folded into IMAP4rev2, RFC 9051 Appendix E item
    2) allows it for literals of up to 4096 octets (RFC 7888 §5)."""
    if has_capability(target.capabilities, "LITERAL+"):
        pass
    elif session.dialect == "rev2" or has_capability(target.capabilities, "LITERAL-"):
        if size > 4096:
            pytest.skip("LITERAL- allows non-synchronizing literals up to 4096 octets only")
    else:
        pytest.skip("neither LITERAL+ nor LITERAL-")
    name = names.created(session)
    message = sized(size)
    result = session.append(name, message, plus=True)
    assert_ok(result)
    assert not result.continuations, f"continuation request for a {{n+}} literal: {result}"
    assert fetch_first(session, name, "BODY.PEEK[]")["BODY[]"] == message


def test_append_larger_than_the_server_limit_is_refused(session, target, names):
    """RFC 9051 §6.3.12: "NO - append error: can't append to that mailbox, error in flags or
    date/time or message text"; "If the append is unsuccessful for any reason, the mailbox
    MUST be restored to its state before the APPEND attempt [...]; no partial appending is
    permitted." A response code, if any, names the limit (TOOBIG of RFC 4469, used by RFC
    7888 §5, or LIMIT of RFC 9051 §7.1); the session goes on."""
    limit = target.max_message_size
    for name in target.capabilities:
        if name.startswith("APPENDLIMIT="):
            limit = int(name.split("=", 1)[1])
    if limit is None:
        pytest.skip("the server's message size limit is unknown (RFC9051_TEST_MAX_MESSAGE_SIZE)")
    name = names.created(session)
    result = session.append(name, sized(limit + 1024))
    assert_not_ok(result)
    if result.tagged.code is not None:
        assert result.tagged.code in ("TOOBIG", "LIMIT"), result
    assert_still_usable(session)
    assert messages(session, name) == 0


def test_append_utf8_headers_without_utf8_accept_is_refused(rev1, target, names):
    """RFC 6855 §4: "If an IMAP server supports "UTF8=ACCEPT" and the IMAP client has not
    issued the "ENABLE UTF8=ACCEPT" command, the server MUST reject, with a "NO" response,
    an "APPEND" command that includes any 8-bit character in message header fields."
    elektromail does so only with --strict-utf8-append (its default stores them, as Dovecot
    does); the in-process server of this module has it on."""
    require(target.capabilities, "UTF8=ACCEPT")
    name = names.created(rev1)
    assert_no(rev1.append(name, UTF8_HEADERS))
    assert messages(rev1, name) == 0


def test_append_utf8_data_extension_after_enable(imap, target, names):
    """RFC 6855 §4: "If the server supports "UTF8=ACCEPT", then the server accepts UTF-8
    headers in the "APPEND" command message argument. A client that sends a message with
    UTF-8 headers to the server MUST send them using the "UTF8" data extension";
    utf8-literal = "UTF8" SP "(" literal8 ")"."""
    require(target.capabilities, "UTF8=ACCEPT")
    assert_ok(imap.command("ENABLE", "UTF8=ACCEPT"))
    name = names.created(imap)
    result = imap.command(
        "APPEND", quote(name), "UTF8", "(", Literal(UTF8_HEADERS, binary=True), ")"
    )
    assert_ok(result)
    assert fetch_first(imap, name, "BODY.PEEK[]")["BODY[]"] == UTF8_HEADERS


def test_append_literal8_loses_no_data(rev1, target, names):
    """RFC 3516 §4.4: "The APPEND command is extended to allow the client to append data
    containing NULs by using the <literal8> syntax.  The server MAY modify the CTE of the
    appended data, however any such transformation MUST NOT result in a loss of data." (RFC
    9051 Appendix B: IMAP4rev2 leaves this part of BINARY out, hence a rev1 session.)"""
    require(target.capabilities, "BINARY")
    name = names.created(rev1)
    assert_ok(rev1.command("APPEND", quote(name), Literal(NUL_OCTETS, binary=True)))
    items = fetch_first(rev1, name, "BINARY.PEEK[1]")
    assert items["BINARY[1]"] == NUL_OCTETS_BODY


def test_append_before_login_is_bad(client, names):
    """RFC 9051 §6.3: APPEND is one of the commands "valid in the authenticated state". The
    server may refuse before or after reading the literal; either way the answer is BAD."""
    tag, early = client.send_command("APPEND", quote(names.new()), Literal(PLAIN))
    assert_bad(client.read_until_tagged(tag, early))
    assert_still_usable(client)
