"""names.py (and the flag rule it shares InvalidInput with): what the server takes as a user
name, password, email address, mailbox name and flag from outside a protocol, and the forms it
compares them in. Pure code."""

from __future__ import annotations

import re
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
    mailbox_name_problem,
    mutf7_lookalike,
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


# The one mailbox-name rule (elektromail.names.mailbox_name_problem), case by case as the
# reference Dovecot 2.3 answers CREATE (its NO [CANNOT] text in the comment). RFC 9051 §5.1: "The
# interpretation of all other names is implementation dependent"; "CTL and other non-graphic
# characters ... Servers MAY refuse to create mailbox names containing Unicode CTL characters";
# "the list-wildcard characters ("%" and "*") are valid in a mailbox name" but "difficult to use
# ... with the LIST command" (taken, as Dovecot takes them); §5.1.1: levels separated by "a
# single ASCII character". RFC 3501 §5.1.3 / RFC 9051 Appendix A.1: "~" is "a home directory
# indicator" on some servers.
MAILBOX_NAME_CASES = [
    ("", "empty name"),  # Dovecot: "Name is empty"
    ("..", "contains a '..' level"),  # "Contains '..' part"
    ("a/..", "contains a '..' level"),
    ("../x", "contains a '..' level"),
    ("INBOX/..", "contains a '..' level"),
    (".", "contains a '.' level"),  # "Contains '.' part"
    ("a/.", "contains a '.' level"),
    ("/lead", "begins with the hierarchy delimiter /"),  # "Begins with hierarchy separator"
    ("a/", "ends with the hierarchy delimiter /"),  # "Ends with hierarchy separator"
    ("a//b", "adjacent hierarchy delimiters (an empty level)"),  # "Has adjacent ..."
    ("~tilde", "begins with '~'"),  # "Begins with '~'"
    ("~", "begins with '~'"),
    ("ctl\x01x", "contains a control character"),  # rev1: "not valid mUTF-7"
    ("tab\tx", "contains a control character"),
    ("del\x7fx", "contains a control character"),
    ("c1\x85x", "contains a control character"),
    ("lone\udc80", "contains a control character"),
    ("x" * 4097, "longer than 4096 bytes"),  # "Mailbox name too long"
    ("/".join(["é" * 60] * 35), "longer than 4096 bytes"),  # counted in UTF-8, as Dovecot
    ("/".join("z" * 65), "more than 64 hierarchy levels"),  # ours (Dovecot: its path length)
    ("y" * 256, "a hierarchy level longer than 255 bytes (in modified UTF-7)"),
    ("é" * 100, "a hierarchy level longer than 255 bytes (in modified UTF-7)"),  # 269 bytes
    # what Dovecot creates, and so do we
    ("a*b", None),
    ("a%b", None),
    ("*", None),
    (" ", None),
    ("  ", None),
    ("with space", None),
    ("trail ", None),
    (" lead", None),
    ("a/ ", None),
    ("a /b", None),
    ("a~b", None),
    ("a/~b", None),
    ("a.b", None),
    ("...", None),
    ("..x", None),
    (".hidden", None),
    ("a/.hidden", None),
    ("#news", None),
    ('"q', None),
    ("back\\s", None),
    ("Tom & Jerry", None),
    ("&AOk-", None),  # IMAP4rev2 takes UTF-8 names literally (RFC 9051 §5.1)
    ("é", None),
    ("台" * 90, None),  # 270 bytes of UTF-8, 242 of modified UTF-7: Dovecot creates it
    ("x" * 255, None),
    ("/".join(["y" * 200] * 20) + "/" + "y" * 75, None),  # 4095 bytes
    ("/".join("z" * 64), None),
    ("INBOX", None),
]


@pytest.mark.parametrize(
    ("name", "problem"), MAILBOX_NAME_CASES, ids=[repr(n[:20]) for n, _ in MAILBOX_NAME_CASES]
)
def test_mailbox_name_problem_is_dovecots_rule(name, problem):
    assert mailbox_name_problem(name) == problem


@pytest.mark.parametrize(
    ("name", "problem"),
    [(n, p) for n, p in MAILBOX_NAME_CASES if p is not None and n],
    ids=[repr(n[:20]) for n, p in MAILBOX_NAME_CASES if p is not None and n],
)
def test_check_mailbox_name_refuses_what_create_refuses(name, problem):
    with pytest.raises(InvalidInput, match=re.escape(problem)):
        check_mailbox_name(name)


LOOKUP_CASES = [
    ("..", "contains a '..' level"),
    ("a/.", "contains a '.' level"),
    ("/lead", "begins with the hierarchy delimiter /"),
    ("a/", "ends with the hierarchy delimiter /"),
    ("a//b", "adjacent hierarchy delimiters (an empty level)"),
    ("~x", "begins with '~'"),
    ("a\x01", "contains a control character"),
    ("a*b", None),  # Dovecot: "Mailbox doesn't exist" (it creates such names)
    ("x" * 5000, None),  # Dovecot: "Mailbox doesn't exist"
    ("y" * 256, None),
]


@pytest.mark.parametrize(("name", "problem"), LOOKUP_CASES, ids=[n[:12] for n, _ in LOOKUP_CASES])
def test_a_name_looked_up_is_checked_for_its_form_only(name, problem):
    """As Dovecot answers SELECT, STATUS, APPEND...: NO [CANNOT] for a name of a form no
    mailbox can have, "does not exist" for one that is only too long."""
    assert mailbox_name_problem(name, creating=False) == problem


def test_check_mailbox_name_shortens_a_long_name_in_its_message():
    with pytest.raises(InvalidInput) as caught:
        check_mailbox_name("x" * 5000)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("given", "meant"),
    [("&AOk-", "é"), ("Entw&APw-rfe", "Entwürfe"), ("R&-D", "R&D"), ("&Jjo-", "\u263a")],
)
def test_check_mailbox_name_refuses_modified_utf7_and_names_the_utf8_text(given, meant):
    """RFC 3501 §5.1.3: modified UTF-7 is IMAP4rev1's wire form ("&" shifts to modified
    base64, "&-" is "&"); the text doors take names as UTF-8, and say which one was meant."""
    assert mutf7_lookalike(given) == meant
    with pytest.raises(InvalidInput, match=re.escape(f"UTF-8 text: {meant!r}")):
        check_mailbox_name(given)


@pytest.mark.parametrize("name", ["Tom & Jerry", "R&D", "&Jjo", "a&b-", "é&AOk-", "&AGE-"])
def test_names_with_an_ampersand_that_is_no_modified_utf7_mean_themselves(name):
    """Not modified UTF-7 (unterminated, truncated, non-canonical or 8-bit), so no IMAP4rev1
    spelling to confuse: the name as given."""
    assert mutf7_lookalike(name) is None
    assert check_mailbox_name(name) == name


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
