"""names.py (and the flag rule it shares InvalidInput with): what the server takes as a user
name, password, email address, mailbox name and flag from outside a protocol, and the forms it
compares them in. Pure code."""

from __future__ import annotations

import unicodedata

import pytest

from elektromail.flags import check_flags, is_keyword
from elektromail.names import (
    InvalidInput,
    canonical_mailbox,
    check_email,
    check_mailbox_name,
    check_password,
    check_user_name,
    fold,
)


@pytest.mark.parametrize(
    ("flag", "keyword"),
    [
        ("$Work", True),
        ("Junk", True),
        ("a.b-c_d", True),
        ("x]", False),
        ("a(b", False),
        ("a%", False),
        ("a*", False),
        ('a"', False),
        ("a\\b", False),
        ("a{1}", False),
        ("a b", False),
        ("", False),
        ("Entwürfe", False),
        ("a\x7f", False),
    ],
    ids=[
        "dollar",
        "word",
        "punctuation",
        "bracket",
        "paren",
        "percent",
        "star",
        "quote",
        "backslash",
        "brace",
        "space",
        "empty",
        "non-ascii",
        "delete",
    ],
)
def test_is_keyword_takes_atoms_only(flag, keyword):
    assert is_keyword(flag) is keyword


@pytest.mark.parametrize(
    "name", ["user", "Ålice", "a.b-c+d", "x" * 200], ids=["plain", "non-ascii", "marks", "long"]
)
def test_check_user_name_passes_a_good_name_through(name):
    assert check_user_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "invalid user name: empty"),
        (None, "invalid user name: empty"),
        ("a b", "invalid user name 'a b'"),
        ("a@b", "invalid user name 'a@b'"),
        ("a/b", "invalid user name 'a/b'"),
        ("a:b", "invalid user name 'a:b'"),
        ("a,b", "invalid user name 'a,b'"),
        ("a'b", 'invalid user name "a\'b"'),
        ("a\tb", "invalid user name 'a\\tb'"),
    ],
    ids=["empty", "none", "space", "at", "slash", "colon", "comma", "apostrophe", "tab"],
)
def test_check_user_name_refuses_what_a_user_spec_could_not_carry(name, message):
    with pytest.raises(InvalidInput, match="^" + message.replace("\\", "\\\\")):
        check_user_name(name)


@pytest.mark.parametrize(
    ("name", "folded"),
    [("Alice", "alice"), ("ÄBC", "Äbc"), ("straße", "straße"), ("\udcff", "\udcff")],
    ids=["ascii", "non-ascii-kept", "sharp-s-kept", "lone-surrogate"],
)
def test_fold_lowers_ascii_letters_only_as_sqlite_nocase_does(name, folded):
    assert fold(name) == folded


def test_check_password_wants_a_non_empty_string():
    assert check_password(" ") == " "
    for bad in ("", None, 12):
        with pytest.raises(InvalidInput, match="invalid password: empty"):
            check_password(bad)


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("a@b", True),
        ('"odd@local"@example.org', True),
        ("a@", False),
        ("@b", False),
        ("ab", False),
        ("a b@c", False),
        ("a@b\n", False),
        (None, False),
    ],
    ids=[
        "simple",
        "at-in-local-part",
        "no-domain",
        "no-local",
        "no-at",
        "space",
        "newline",
        "none",
    ],
)
def test_check_email_wants_local_at_domain(email, valid):
    if valid:
        assert check_email(email) == email
    else:
        with pytest.raises(InvalidInput, match="invalid email address"):
            check_email(email)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("inbox", "INBOX"),
        ("InBoX/Sub", "INBOX/Sub"),
        ("inbox/inbox", "INBOX/inbox"),
        ("Inboxes", "Inboxes"),
        ("Work/inbox", "Work/inbox"),
        (unicodedata.normalize("NFD", "Entwürfe"), "Entwürfe"),
    ],
    ids=["inbox", "inbox-parent", "only-first-level", "longer-name", "inbox-below", "nfd-to-nfc"],
)
def test_canonical_mailbox_spells_inbox_one_way_and_unicode_in_nfc(name, canonical):
    assert canonical_mailbox(name) == canonical


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("/a", "begins or ends with the hierarchy delimiter"),
        ("a/", "begins or ends with the hierarchy delimiter"),
        ("a//b", "adjacent hierarchy delimiters"),
        ("a*", "contains a LIST wildcard"),
        ("a%b", "contains a LIST wildcard"),
        ("a\x00b", "contains a control character"),
        ("a\nb", "contains a control character"),
        ("a\udc80", "contains a control character"),
    ],
    ids=[
        "empty",
        "leading",
        "trailing",
        "adjacent",
        "star",
        "percent",
        "nul",
        "newline",
        "surrogate",
    ],
)
def test_check_mailbox_name_refuses_what_create_refuses(name, problem):
    with pytest.raises(InvalidInput, match=problem):
        check_mailbox_name(name)


def test_check_mailbox_name_returns_the_canonical_form():
    assert check_mailbox_name("inbox/Work") == "INBOX/Work"
    assert check_mailbox_name("Ünïcode name") == "Ünïcode name"


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["\\Recent"], "invalid flag '\\\\\\\\Recent': not one of "),
        (["\\Important"], "invalid flag '\\\\\\\\Important': not one of "),
        (["$ok", "bad flag"], "invalid flag 'bad flag': not an IMAP keyword"),
        ([3], "invalid flag 3: not a string"),
        ("\\Seen", "flags must be a list of strings"),
    ],
    ids=["recent", "unknown-system", "space", "number", "a-string"],
)
def test_check_flags_names_the_first_flag_it_cannot_store(flags, problem):
    with pytest.raises(InvalidInput, match=problem):
        check_flags(flags)


def test_check_flags_takes_system_flags_in_any_case_and_keywords():
    """InvalidFlag is an InvalidInput: one except clause refuses a bad name or flag."""
    assert check_flags(("\\seen", "\\DRAFT", "$Work")) == ("\\Seen", "\\Draft", "$Work")
