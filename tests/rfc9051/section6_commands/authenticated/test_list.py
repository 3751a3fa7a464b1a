"""RFC 9051 §6.3.9 LIST: basic LIST, the extended syntax (RFC 5258 LIST-EXTENDED for
IMAP4rev1 sessions), LIST-STATUS (RFC 5819) and the SPECIAL-USE selection (RFC 6154)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_listed,
    assert_not_listed,
    assert_ok,
    assert_still_usable,
    list_entries,
    listed,
    require,
    statuses,
    subscribe,
)
from tests.rfc9051.client import Literal, quote
from tests.rfc9051.fixtures import MULTIPART, PLAIN

SPECIAL_USES = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash"}


def extended(client, target, capability: str = "LIST-EXTENDED"):
    """Skip unless `client` may use this LIST extension: always in IMAP4rev2 (RFC 9051 folds
    LIST-EXTENDED and LIST-STATUS in), else only when advertised."""
    if client.dialect != "rev2":
        require(target.capabilities, capability)


def list_ext(client, *parts):
    return client.command("LIST", *parts)


def tree(client, names, delimiter) -> tuple[str, str, str]:
    """parent, parent/child, parent/child/grandchild — created, in that order."""
    parent = names.created(client, "tree")
    child = names.child(parent, "child")
    grandchild = names.child(child, "grandchild")
    assert_ok(client.create(child))
    assert_ok(client.create(grandchild))
    return parent, child, grandchild


def test_list_empty_pattern_returns_delimiter_and_root(session):
    """RFC 9051 §6.3.9: "In the basic syntax only, an empty ("" string) mailbox name argument
    is a special request to return the hierarchy delimiter and the root name of the name
    given in the reference. The value returned as the root MAY be the empty string if the
    reference is non-rooted or is an empty string. In all cases, a hierarchy delimiter (or
    NIL if there is no hierarchy) is returned." """
    result = session.list("", "")
    assert_ok(result)
    (entry,) = list_entries(result)
    assert entry.delimiter is None or len(entry.delimiter) == 1, entry


def test_list_delimiter_is_the_same_everywhere(session, names, delimiter):
    """RFC 9051 §6.3.9: the empty-pattern LIST returns "the hierarchy delimiter"; RFC 9051
    §7.3.1: the LIST response carries "the hierarchy delimiter" of each name — within one
    namespace, the same one."""
    tree(session, names, delimiter)
    for entry in list_entries(session.list("", names.base + "*")):
        assert entry.delimiter == delimiter, entry


def test_list_star_matches_every_level(session, names, delimiter):
    """RFC 9051 §6.3.9: "The character "*" is a wildcard and matches zero or more characters
    at this position." (delimiters included)."""
    parent, child, grandchild = tree(session, names, delimiter)
    found = listed(session.list("", names.base + "*"))
    assert {parent, child, grandchild} <= set(found), found


def test_list_percent_does_not_match_the_delimiter(session, names, delimiter):
    """RFC 9051 §6.3.9: "The character "%" is similar to "*", but it does not match a
    hierarchy delimiter." """
    parent, child, grandchild = tree(session, names, delimiter)
    result = session.list("", names.base + "%")
    assert_listed(result, parent)
    assert_not_listed(result, child)
    assert_not_listed(result, grandchild)


def test_list_percent_after_delimiter_lists_one_level_down(session, names, delimiter):
    """RFC 9051 §6.3.9: "%" "does not match a hierarchy delimiter": parent/% lists the
    children, not the grandchildren."""
    parent, child, _ = tree(session, names, delimiter)
    result = session.list("", parent + delimiter + "%")
    assert set(listed(result)) == {child}, result


def test_list_percent_returns_levels_that_are_not_mailboxes(session, names, delimiter):
    """RFC 9051 §6.3.9: "If the "%" wildcard is the last character of a mailbox name
    argument, matching levels of hierarchy are also returned. If these levels of hierarchy
    are not also selectable mailboxes, they are returned with the \\Noselect mailbox name
    attribute"."""
    level = names.new("level")
    assert_ok(session.create(names.child(level, "leaf")))
    entry = assert_listed(session.list("", level + "%"), level)
    if session.select(level, examine=True).status != "OK":
        assert entry.has("\\Noselect") or entry.has("\\NonExistent"), entry


@pytest.mark.parametrize("pattern", ["INBOX", "*", "%", "IN%", "I*X", "INB%X"])
def test_list_includes_inbox_when_the_pattern_matches(session, pattern):
    """RFC 9051 §6.3.9: "The special name INBOX is included in the output from LIST, if INBOX
    is supported by this server for this user and if the uppercase string "INBOX" matches
    the interpreted reference and mailbox name arguments with wildcards as described
    above." """
    result = session.list("", pattern)
    assert_ok(result)
    inbox = [e for e in list_entries(result) if e.name.upper() == "INBOX"]
    assert len(inbox) == 1, f"expected INBOX once for {pattern!r}: {result}"


def test_list_without_match_succeeds_with_no_responses(session, names):
    """RFC 9051 §6.3.9: "Zero or more untagged LIST responses are returned"; "The returned
    mailbox names MUST match the supplied mailbox name pattern(s)." """
    result = session.list("", names.new("nothing") + "*")
    assert_ok(result)
    assert list_entries(result) == []


def test_list_names_all_match_the_pattern(session, names, delimiter):
    """RFC 9051 §6.3.9: "The returned mailbox names MUST match the supplied mailbox name
    pattern(s)." """
    tree(session, names, delimiter)
    other = names.created(session, "other")
    result = session.list("", names.base + "-tree*")
    assert_not_listed(result, other)
    assert all(e.name.startswith(names.base + "-tree") for e in list_entries(result)), result


def test_list_reference_ending_in_delimiter_prefixes_the_names(session, names, delimiter):
    """RFC 9051 §6.3.9: "If a server implementation has no concept of break out characters,
    the canonical form is normally the reference name appended with the mailbox name";
    "A hierarchical browser MUST NOT make any assumptions about server interpretation of the
    reference unless the reference is a level of mailbox hierarchy AND ends with the
    hierarchy delimiter." Here it is both, so parent/ + % lists parent/child."""
    parent, child, _ = tree(session, names, delimiter)
    result = session.list(parent + delimiter, "%")
    assert_ok(result)
    assert set(listed(result)) == {child}, result


def test_list_never_sends_both_haschildren_and_hasnochildren(session, names, delimiter):
    """RFC 9051 §6.3.9.5: "It is an error for the server to return both a \\HasChildren and
    a \\HasNoChildren attribute in the same LIST response." """
    tree(session, names, delimiter)
    for entry in list_entries(session.list("", "*")):
        assert not (entry.has("\\HasChildren") and entry.has("\\HasNoChildren")), entry


def test_list_gives_at_most_one_response_per_name(session, names, delimiter):
    """RFC 9051 §6.3.9.3: "At most, one LIST response should be returned for each mailbox name
    that matches the canonical LIST pattern. Server implementors must not assume that
    clients will be able to assemble mailbox attributes and other information returned in
    multiple LIST responses." """
    tree(session, names, delimiter)
    names_seen = [e.name for e in list_entries(session.list("", "*"))]
    assert len(names_seen) == len(set(names_seen)), names_seen


def test_list_pattern_may_be_a_literal(session, names):
    """RFC 9051 §9: list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat;
    list-mailbox may be a string, and a string may be a literal."""
    name = names.created(session)
    result = session.command("LIST", quote(""), Literal(name.encode()))
    assert_listed(result, name)


def test_list_in_selected_state(session, names):
    """RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands"; LIST is one (RFC 9051 §6.3)."""
    name = names.created(session)
    assert_ok(session.select(name, examine=True))
    assert_listed(session.list("", name), name)


def test_list_children_return_option_marks_parents_and_leaves(session, target, names, delimiter):
    """RFC 9051 §6.3.9.5: "The CHILDREN return option defines two new attributes that MUST be
    returned within a LIST response: \\HasChildren and \\HasNoChildren. [...] If the CHILDREN
    return option is present, the server MUST return these attributes even if their
    computation is expensive." """
    extended(session, target)
    parent, child, grandchild = tree(session, names, delimiter)
    found = listed(list_ext(session, '""', quote(names.base + "*"), "RETURN", "(CHILDREN)"))
    assert found[parent].has("\\HasChildren") and found[child].has("\\HasChildren"), found
    assert found[grandchild].has("\\HasNoChildren"), found


def test_list_children_is_accurate_after_the_child_is_deleted(session, target, names, delimiter):
    """RFC 9051 §6.3.9.5: "\\HasNoChildren The presence of this attribute indicates that the
    mailbox has NO child mailboxes that are accessible to the currently authenticated
    user." — once the only child is deleted."""
    extended(session, target)
    parent = names.created(session, "parent")
    child = names.child(parent, "child")
    assert_ok(session.create(child))
    assert_ok(session.delete(child))
    entry = assert_listed(list_ext(session, '""', quote(parent), "RETURN", "(CHILDREN)"), parent)
    assert entry.has("\\HasNoChildren") and not entry.has("\\HasChildren"), entry


def test_list_subscribed_selection_lists_exactly_the_subscribed(session, target, names):
    """RFC 9051 §6.3.9.1: "SUBSCRIBED Causes the LIST command to list subscribed names rather
    than the existing mailboxes. [...] the list MUST include exactly those mailbox names that
    match the canonical list pattern and are subscribed to." "The "\\Subscribed" attribute
    MUST be supported and MUST be accurately computed when the SUBSCRIBED selection option
    is specified." """
    extended(session, target)
    yes, _ = names.created(session), names.created(session)
    assert_ok(subscribe(session, yes))
    found = listed(list_ext(session, "(SUBSCRIBED)", '""', quote(names.base + "*")))
    assert set(found) == {yes}, found
    assert found[yes].has("\\Subscribed"), found


def test_list_subscribed_includes_subscribed_names_that_do_not_exist(session, target, names):
    """RFC 9051 §6.3.9.1: "It's also possible for this list to contain the names of mailboxes
    that don't exist. In any case, the list MUST include exactly those mailbox names that
    match the canonical list pattern and are subscribed to." Table 3: a name that does not
    exist but meets the criteria is returned as "(\\NonExistent <attr>)"."""
    extended(session, target)
    name = names.created(session)
    assert_ok(subscribe(session, name))
    assert_ok(session.delete(name))
    entry = assert_listed(list_ext(session, "(SUBSCRIBED)", '""', quote(name)), name)
    assert entry.has("\\Subscribed") and entry.has("\\NonExistent"), entry


def test_list_subscribed_return_option_marks_subscriptions(session, target, names):
    """RFC 9051 §6.3.9.2: "SUBSCRIBED Causes the LIST command to return subscription state
    for all matching mailbox names. The "\\Subscribed" attribute MUST be supported and MUST
    be accurately computed when the SUBSCRIBED return option is specified." """
    extended(session, target)
    yes, no = names.created(session), names.created(session)
    assert_ok(subscribe(session, yes))
    found = listed(list_ext(session, '""', quote(names.base + "*"), "RETURN", "(SUBSCRIBED)"))
    assert found[yes].has("\\Subscribed") and not found[no].has("\\Subscribed"), found


def test_list_recursivematch_reports_childinfo_for_unsubscribed_parent(
    session, target, names, delimiter
):
    """RFC 9051 §6.3.9.1: "RECURSIVEMATCH Forces the server to return information about parent
    mailboxes that don't match other selection options but have some submailboxes that do.
    Information about children is returned in the CHILDINFO extended data item"; Table 3:
    exists, does not meet the criteria, has a child that does: "() + CHILDINFO"."""
    extended(session, target)
    parent = names.created(session, "parent")
    child = names.child(parent, "child")
    assert_ok(session.create(child))
    assert_ok(subscribe(session, child))
    result = list_ext(session, "(SUBSCRIBED RECURSIVEMATCH)", '""', quote(parent))
    entry = assert_listed(result, parent)
    assert not entry.has("\\Subscribed"), entry
    childinfo = entry.extended_items().get("CHILDINFO")
    assert childinfo is not None, f"no CHILDINFO: {entry}"
    assert [str(x).upper() for x in childinfo] == ["SUBSCRIBED"], entry


def test_list_recursivematch_alone_is_bad(session, target):
    """RFC 9051 §6.3.9.1: "The RECURSIVEMATCH option MUST NOT occur as the only selection
    option (or only with REMOTE), as it only makes sense when other selection options are
    also used. The server MUST return a BAD tagged response in such case." """
    extended(session, target)
    assert_bad(list_ext(session, "(RECURSIVEMATCH)", '""', '"*"'))
    assert_bad(list_ext(session, "(REMOTE RECURSIVEMATCH)", '""', '"*"'))
    assert_still_usable(session)


def test_list_unknown_selection_option_is_bad(session, target):
    """RFC 9051 §6.3.9: "A server MUST respond to options it does not recognize with a BAD
    response." """
    extended(session, target)
    assert_bad(list_ext(session, "(X-RFC9051-UNKNOWN)", '""', '"*"'))
    assert_still_usable(session)


def test_list_unknown_return_option_is_bad(session, target):
    """RFC 9051 §6.3.9: "A server MUST respond to options it does not recognize with a BAD
    response." """
    extended(session, target)
    assert_bad(list_ext(session, '""', '"*"', "RETURN", "(X-RFC9051-UNKNOWN)"))
    assert_still_usable(session)


def test_list_repeated_option_acts_as_once(session, target, names):
    """RFC 9051 §6.3.9: "The client SHOULD NOT specify any option more than once; however, if
    the client does this, the server MUST act as if it received the option only once." """
    extended(session, target)
    name = names.created(session)
    assert_ok(subscribe(session, name))
    once = list_ext(session, "(SUBSCRIBED)", '""', quote(names.base + "*"))
    twice = list_ext(session, "(SUBSCRIBED SUBSCRIBED)", '""', quote(names.base + "*"))
    assert_ok(twice)
    assert {e.name: set(e.attributes) for e in list_entries(once)} == {
        e.name: set(e.attributes) for e in list_entries(twice)
    }


def test_list_remote_selection_option_is_accepted(session, target, names):
    """RFC 9051 §6.3.9.1: "REMOTE Causes the LIST command to show remote mailboxes as well as
    local ones [...]. Servers that don't support the concept of remote mailboxes can ignore
    this option." RFC 9051 §6.3.9: "Initial options defined in this document MUST be
    supported." """
    extended(session, target)
    name = names.created(session)
    assert_listed(list_ext(session, "(REMOTE)", '""', quote(name)), name)


def test_list_several_patterns_in_one_command(session, target, names):
    """RFC 9051 §6.3.9: the extended syntax takes "mailbox patterns"; "The returned mailbox
    names MUST match the supplied mailbox name pattern(s)." (mbox-or-pat = list-mailbox /
    patterns, RFC 9051 §9)."""
    extended(session, target)
    first, second, third = (names.created(session) for _ in range(3))
    result = list_ext(session, '""', f"({quote(first).decode()} {quote(second).decode()})")
    assert set(listed(result)) == {first, second}, result
    assert third not in listed(result)


def test_list_extended_empty_pattern_has_no_special_meaning(session, target):
    """RFC 9051 §6.3.9: "In the extended syntax, any mailbox name arguments that are empty
    strings are ignored. There is no special meaning for empty mailbox names when the
    extended syntax is used." """
    extended(session, target)
    result = list_ext(session, '""', '""', "RETURN", "()")
    assert_ok(result)
    assert list_entries(result) == [], result


def test_list_status_return_option_follows_each_list_with_status(session, target, names):
    """RFC 9051 §6.3.9.2: "STATUS Requests STATUS response for each matching mailbox. [...]
    For each selectable mailbox matching the list pattern and selection options, the server
    MUST return an untagged LIST response followed by an untagged STATUS response containing
    the information requested in the STATUS return option" (RFC 5819 LIST-STATUS for
    IMAP4rev1 sessions)."""
    extended(session, target, "LIST-STATUS")
    empty, full = names.created(session), names.created(session)
    assert_ok(session.append(full, PLAIN))
    assert_ok(session.append(full, MULTIPART))
    result = list_ext(
        session, '""', quote(names.base + "*"), "RETURN", "(STATUS (MESSAGES UIDNEXT))"
    )
    assert_ok(result)
    found = statuses(result)
    assert found[empty]["MESSAGES"] == 0 and found[full]["MESSAGES"] == 2, result
    assert "UIDNEXT" in found[full], result
    order = [r.kind for r in result.untagged if r.kind in ("LIST", "STATUS")]
    for i, kind in enumerate(order):
        if kind == "STATUS":
            assert i > 0 and order[i - 1] == "LIST", f"STATUS without its LIST: {result}"


def test_list_status_adds_no_names(session, target, names):
    """RFC 9051 §6.3.9: "Return options MUST NOT cause the server to report information about
    additional mailbox names other than those that match the canonical LIST patterns and
    selection options." """
    extended(session, target, "LIST-STATUS")
    name = names.created(session)
    result = list_ext(session, '""', quote(name), "RETURN", "(STATUS (MESSAGES))")
    assert set(listed(result)) == {name} and set(statuses(result)) == {name}, result


def special_use_mailboxes(session, target) -> dict:
    result = list_ext(session, "(SPECIAL-USE)", '""', '"*"')
    assert_ok(result)
    return listed(result)


def test_list_special_use_selection_returns_only_special_use_mailboxes(session, target):
    """RFC 6154 §2: "If the client specifies the "SPECIAL-USE" selection option, the LIST
    command MUST return only those mailboxes that have a special-use attribute set." """
    require(target.capabilities, "SPECIAL-USE")
    extended(session, target)
    for entry in special_use_mailboxes(session, target).values():
        assert {a.lower() for a in entry.attributes} & SPECIAL_USES, entry


def test_list_special_use_return_option_reports_the_attributes(session, target, names):
    """RFC 6154 §2: "If the client specifies the "SPECIAL-USE" return option, the LIST command
    MUST return the new special-use attributes on those mailboxes that have them set." A
    mailbox without a special use gets none."""
    require(target.capabilities, "SPECIAL-USE")
    extended(session, target)
    special = special_use_mailboxes(session, target)
    if not special:
        if "CREATE-SPECIAL-USE" not in target.capabilities:
            pytest.skip("no special-use mailbox to look at")
        made = names.new("drafts")
        assert_ok(session.command("CREATE", quote(made), "(USE (\\Drafts))"))
        special = special_use_mailboxes(session, target)
    plain_name = names.created(session)
    result = list_ext(session, '""', '"*"', "RETURN", "(SPECIAL-USE)")
    found = listed(result)
    for name, entry in special.items():
        uses = {a.lower() for a in entry.attributes} & SPECIAL_USES
        assert uses <= {a.lower() for a in found[name].attributes}, (entry, found[name])
    assert not {a.lower() for a in found[plain_name].attributes} & SPECIAL_USES, result


@pytest.mark.parametrize(
    "arguments",
    [(), ('""',), ('""', '"*"', '"extra"'), ('"unterminated',)],
    ids=["none", "one", "three-basic", "unterminated"],
)
def test_list_with_malformed_arguments_is_bad(session, arguments):
    """RFC 9051 §6.3.9: "BAD - command unknown or arguments invalid"; list = "LIST" [SP
    list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts] (RFC 9051 §9)."""
    assert_bad(session.command("LIST", *arguments))
    assert_still_usable(session)


def test_list_before_login_is_bad(client):
    """RFC 9051 §6.3: LIST is one of the commands "valid in the authenticated state"."""
    assert_bad(client.list("", "*"))
    assert_still_usable(client)
