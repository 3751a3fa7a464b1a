"""RFC 9051 §6.3.10 NAMESPACE (RFC 2342 for IMAP4rev1 servers advertising NAMESPACE)."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_listed,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    require,
)
from tests.rfc9051.response import Response, string_value


@pytest.fixture
def ns(session, target):
    """A session that may use NAMESPACE: IMAP4rev2, or IMAP4rev1 with NAMESPACE."""
    if session.dialect == "rev1":
        require(target.capabilities, "NAMESPACE")
    return session


def namespace_response(result) -> Response:
    (response,) = assert_untagged(result, "NAMESPACE", count=1)
    return response


def test_namespace_returns_one_untagged_namespace(ns):
    """RFC 9051 §6.3.10: "The NAMESPACE command causes a single untagged NAMESPACE response to
    be returned." """
    result = ns.command("NAMESPACE")
    assert_ok(result)
    namespace_response(result)


def test_namespace_has_three_classes_each_nil_or_list(ns):
    """RFC 9051 §6.3.10: "The untagged NAMESPACE response contains the prefix and hierarchy
    delimiter to the server's Personal Namespace(s), Other Users' Namespace(s), and Shared
    Namespace(s) that the server wishes to expose. The response will contain a NIL for any
    namespace class that is not available." namespace = nil / "(" 1*namespace-descr ")";
    namespace-descr = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil) [ext] ")"."""
    response = namespace_response(ns.command("NAMESPACE"))
    assert len(response.data) == 3, f"expected three namespace classes: {response}"
    for klass in response.data:
        if klass is None:
            continue
        assert isinstance(klass, list) and klass, f"namespace class {klass!r}"
        for descr in klass:
            assert isinstance(descr, list) and len(descr) >= 2, f"namespace-descr {descr!r}"
            assert isinstance(descr[0], (str, bytes)), f"prefix {descr[0]!r} is not a string"
            delimiter = descr[1]
            assert delimiter is None or len(string_value(delimiter)) == 1, descr


def test_namespace_personal_delimiter_matches_list(ns, target):
    """RFC 9051 §6.3.10: the response contains "the prefix and hierarchy delimiter to the
    server's Personal Namespace(s)"; RFC 9051 §6.3.9: LIST "" "" returns "the hierarchy
    delimiter" for names interpreted as by SELECT — for the personal namespace without a
    prefix, the same one."""
    personal = namespace_response(ns.command("NAMESPACE")).data[0]
    if personal is None:
        pytest.skip("no personal namespace")
    first = personal[0]
    if string_value(first[0]) != "":
        pytest.skip("the personal namespace has a prefix")
    assert string_value(first[1]) == target.delimiter, (first, target.delimiter)


def test_namespace_personal_prefix_holds_new_mailboxes(ns, names):
    """RFC 9051 §6.3.10: "The prefix string allows a client to do things such as
    automatically create personal mailboxes or LIST all available mailboxes within a
    namespace." """
    personal = namespace_response(ns.command("NAMESPACE")).data[0]
    if personal is None:
        pytest.skip("no personal namespace")
    prefix = string_value(personal[0][0])
    name = names.created(ns)
    assert name.startswith(prefix)
    assert_listed(ns.list("", prefix + "*"), name)


@pytest.mark.dovecot_deviation("ignores arguments after NAMESPACE and answers OK")
def test_namespace_with_arguments_is_bad(ns):
    """RFC 9051 §6.3.10: "Arguments: none ... BAD - arguments invalid"; namespace =
    "NAMESPACE" (RFC 9051 §9)."""
    assert_bad(ns.command("NAMESPACE", "x"))
    assert_still_usable(ns)


def test_namespace_in_selected_state(ns):
    """RFC 9051 §6: "commands valid in authenticated and selected states are listed in the
    authenticated state commands"; NAMESPACE is one (RFC 9051 §6.3)."""
    assert_ok(ns.select("INBOX", examine=True))
    result = ns.command("NAMESPACE")
    assert_ok(result)
    namespace_response(result)


def test_namespace_before_login_is_bad(client, target):
    """RFC 9051 §6.3: NAMESPACE is one of the commands "valid in the authenticated state"."""
    caps = target.capabilities
    if "NAMESPACE" not in caps and "IMAP4REV2" not in caps:
        pytest.skip("server advertises neither NAMESPACE nor IMAP4rev2")
    assert_bad(client.command("NAMESPACE"))
    assert_still_usable(client)
