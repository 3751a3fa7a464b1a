"""LIST and LSUB over real sockets: patterns and references (RFC 9051 §6.3.9), LIST-EXTENDED
(RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154), both dialects, exact lines."""

from __future__ import annotations

import imaplib

import pytest

from tests.imap.mailbox_wire import Wire, deliver, list_lines, message

DEFAULTS = ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]


@pytest.fixture
def wire(mail):
    connection = Wire(mail)
    yield connection
    connection.close()


def lines(wire: Wire, command: str | bytes) -> list[bytes]:
    return list_lines(wire.ok(command))


def subscribe_missing(mail, name: str) -> None:
    """A subscription without a mailbox (IMAP's SUBSCRIBE wants the mailbox to exist; one
    deleted after it was subscribed leaves such a name behind, RFC 9051 §6.3.7)."""
    postoffice = mail.server.postoffice
    user = mail.call(postoffice.store.get_user, "user")
    mail.call(postoffice.subscribe, user, name)


def unsubscribe_defaults(wire: Wire) -> None:
    for name in DEFAULTS:
        wire.ok(f"UNSUBSCRIBE {name}")


# --- the basic LIST -----------------------------------------------------------------------


def test_list_star_shows_inbox_first_with_children_and_special_use(wire):
    assert lines(wire, 'LIST "" "*"') == [
        b'* LIST (\\HasNoChildren) "/" INBOX',
        b'* LIST (\\HasNoChildren \\Archive) "/" Archive',
        b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts',
        b'* LIST (\\HasNoChildren \\Junk) "/" Junk',
        b'* LIST (\\HasNoChildren \\Sent) "/" Sent',
        b'* LIST (\\HasNoChildren \\Trash) "/" Trash',
    ]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('LIST "" ""', [b'* LIST (\\Noselect) "/" ""']),
        ('LIST "foo/bar" ""', [b'* LIST (\\Noselect) "/" foo/']),
        ('LIST "foo" ""', [b'* LIST (\\Noselect) "/" ""']),
        ('LIST () "" ""', []),  # no special meaning in the extended syntax
        ('LIST "" ("")', []),
        ('LIST "" ()', []),
    ],
)
def test_list_empty_pattern_asks_for_the_delimiter(wire, command, expected):
    assert lines(wire, command) == expected


def test_list_percent_stops_at_the_delimiter_and_reference_is_a_prefix(wire):
    wire.ok("CREATE a/b/c")
    assert lines(wire, 'LIST "" "%"')[-1] == b'* LIST (\\HasChildren) "/" a'
    assert lines(wire, 'LIST "" "a/%"') == [b'* LIST (\\HasChildren) "/" a/b']
    assert lines(wire, 'LIST "a/" "%"') == [b'* LIST (\\HasChildren) "/" a/b']
    assert lines(wire, 'LIST "a/" "*"') == [
        b'* LIST (\\HasChildren) "/" a/b',
        b'* LIST (\\HasNoChildren) "/" a/b/c',
    ]
    assert lines(wire, 'LIST "" "%/%/c"') == [b'* LIST (\\HasNoChildren) "/" a/b/c']


@pytest.mark.parametrize("pattern", ["inbox", "InBoX", "in*", "I%", "%X", "*"])
def test_list_matches_inbox_in_any_case(wire, pattern):
    assert lines(wire, f'LIST "" "{pattern}"')[0] == b'* LIST (\\HasNoChildren) "/" INBOX'


def test_list_inbox_children_in_any_case(wire):
    wire.ok("CREATE inbox/Kid")
    assert lines(wire, 'LIST "" "Inbox/%"') == [b'* LIST (\\HasNoChildren) "/" INBOX/Kid']
    assert lines(wire, 'LIST "inbox/" "k*"') == []  # only INBOX itself ignores case
    assert lines(wire, 'LIST "" "inbox"') == [b'* LIST (\\HasChildren) "/" INBOX']


def test_list_other_names_match_case_sensitively(wire):
    assert lines(wire, 'LIST "" "sent"') == []
    assert lines(wire, 'LIST "" "S*"') == [b'* LIST (\\HasNoChildren \\Sent) "/" Sent']


def test_list_several_patterns_answer_each_name_once(wire):
    assert lines(wire, 'LIST "" ("Sent" "INBOX" "S*" "nothing")') == [
        b'* LIST () "/" INBOX',
        b'* LIST () "/" Sent',
    ]


def test_list_shows_a_missing_parent_as_noselect(mail, wire):
    deliver(mail, "p/q", message())  # delivery creates no parents
    assert lines(wire, 'LIST "" "p*"') == [
        b'* LIST (\\Noselect \\HasChildren) "/" p',
        b'* LIST (\\HasNoChildren) "/" p/q',
    ]
    assert lines(wire, 'LIST () "" "p"') == [b'* LIST (\\NonExistent \\HasChildren) "/" p']
    assert lines(wire, 'LIST "" "p" RETURN (STATUS (MESSAGES))') == [
        b'* LIST (\\NonExistent \\HasChildren) "/" p'
    ]
    wire.ok("ENABLE IMAP4rev2")
    assert lines(wire, 'LIST "" "p"') == [b'* LIST (\\NonExistent \\HasChildren) "/" p']
    assert wire.status("SELECT p").startswith(b"NO [NONEXISTENT]")


# --- names on the wire --------------------------------------------------------------------


def test_list_encodes_names_for_the_dialect(mail, wire):
    wire.ok("CREATE &AOQ-/Entw&APw-rfe")
    wire.ok('CREATE "two words"')
    wire.ok('CREATE "quote\\"d"')
    expected_rev1 = [
        b'* LIST (\\HasNoChildren) "/" "quote\\"d"',
        b'* LIST (\\HasNoChildren) "/" "two words"',
        b'* LIST (\\HasChildren) "/" &AOQ-',
        b'* LIST (\\HasNoChildren) "/" &AOQ-/Entw&APw-rfe',
    ]
    assert lines(wire, 'LIST "" "*"')[len(DEFAULTS) :] == expected_rev1
    assert lines(wire, 'LIST "" "&AOQ-/%"') == expected_rev1[3:]
    utf8 = Wire(mail)
    utf8.ok("ENABLE UTF8=ACCEPT")
    assert lines(utf8, 'LIST "" "ä/%"'.encode()) == [
        '* LIST (\\HasNoChildren) "/" "ä/Entwürfe"'.encode()
    ]
    assert lines(utf8, 'LSUB "" "*"')[0] == b'* LSUB () "/" INBOX'  # still IMAP4rev1
    utf8.close()


def test_list_8bit_pattern_in_rev1_is_bad_and_broken_modified_utf7_matches_nothing(wire):
    assert wire.status('LIST "" "\xc3\xa4"'.encode("latin-1")).startswith(b"BAD")
    assert lines(wire, 'LIST "" "&Jjo"') == []
    assert lines(wire, 'LIST "&Jjo" "*"') == []


def test_list_hostile_pattern_answers_at_once(wire):
    wire.ok("CREATE " + "a" * 250)
    assert lines(wire, 'LIST "" "' + "*a" * 2000 + 'b"') == []
    assert lines(wire, 'LIST "" "' + "%a" * 2000 + '"') == []
    assert len(lines(wire, 'LIST "" "' + "*a" * 250 + '"')) == 1


# --- LIST-EXTENDED ------------------------------------------------------------------------


def test_extended_list_in_rev1_returns_what_was_asked_for(wire):
    assert lines(wire, 'LIST () "" Sent') == [b'* LIST () "/" Sent']
    assert lines(wire, 'LIST "" Sent RETURN ()') == [b'* LIST () "/" Sent']
    assert lines(wire, 'LIST "" Sent RETURN (CHILDREN)') == [b'* LIST (\\HasNoChildren) "/" Sent']
    assert lines(wire, 'LIST "" Sent RETURN (SPECIAL-USE)') == [b'* LIST (\\Sent) "/" Sent']
    assert lines(wire, 'LIST "" Sent RETURN (SUBSCRIBED)') == [b'* LIST (\\Subscribed) "/" Sent']
    assert lines(wire, 'LIST (REMOTE) "" Sent RETURN (children children)') == [
        b'* LIST (\\HasNoChildren) "/" Sent'
    ]


def test_list_in_rev2_always_has_children_and_special_use(wire):
    wire.ok("ENABLE IMAP4rev2")
    assert lines(wire, 'LIST "" Sent') == [b'* LIST (\\HasNoChildren \\Sent) "/" Sent']
    assert lines(wire, 'LIST () "" Sent') == [b'* LIST (\\HasNoChildren \\Sent) "/" Sent']
    assert lines(wire, 'LIST "" Sent RETURN (SUBSCRIBED)') == [
        b'* LIST (\\Subscribed \\HasNoChildren \\Sent) "/" Sent'
    ]


def test_list_subscribed_and_recursivematch_rfc_example_7(wire):
    unsubscribe_defaults(wire)
    for name in ("Foo/Bar", "Foo/Baz", "Moo"):
        wire.ok(f"CREATE {name}")
    wire.ok("SUBSCRIBE Foo/Baz")
    assert lines(wire, 'LIST (SUBSCRIBED) "" "*"') == [b'* LIST (\\Subscribed) "/" Foo/Baz']
    assert lines(wire, 'LIST (SUBSCRIBED) "" "%"') == []
    assert lines(wire, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == [
        b'* LIST () "/" Foo (CHILDINFO ("SUBSCRIBED"))'
    ]
    wire.ok("SUBSCRIBE Foo")
    assert lines(wire, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)') == [
        b'* LIST (\\Subscribed \\HasChildren) "/" Foo (CHILDINFO ("SUBSCRIBED"))'
    ]
    wire.ok("UNSUBSCRIBE Foo/Baz")
    wire.ok("SUBSCRIBE Moo")
    assert lines(wire, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)') == [
        b'* LIST (\\Subscribed \\HasChildren) "/" Foo',
        b'* LIST (\\Subscribed \\HasNoChildren) "/" Moo',
    ]


def test_list_recursivematch_rfc_example_8(mail, wire):
    unsubscribe_defaults(wire)
    for name in ("foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222"):
        wire.ok(f"CREATE {name}")
    wire.ok("CREATE eps2/mamba")
    deliver(mail, "qux2/bar2", message())  # a child without a parent
    subscribed = ["foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222"]
    for name in [*subscribed, "eps2", "eps2/mamba", "qux2/bar2"]:
        wire.ok(f"SUBSCRIBE {name}")
    assert lines(wire, 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"') == [
        b'* LIST (\\Subscribed) "/" baz2/bar2',
        b'* LIST (\\Subscribed) "/" baz2/bar22',
        b'* LIST (\\Subscribed) "/" baz2/bar222',
        b'* LIST (\\Subscribed) "/" eps2 (CHILDINFO ("SUBSCRIBED"))',
        b'* LIST () "/" foo2 (CHILDINFO ("SUBSCRIBED"))',
        b'* LIST (\\Subscribed) "/" foo2/bar2',
        b'* LIST (\\Subscribed) "/" qux2/bar2',
    ]
    # "*": redundant CHILDINFO is left out (RFC 9051 §6.3.9.6 SHOULD; Dovecot does too)
    assert lines(wire, 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "eps2*"') == [
        b'* LIST (\\Subscribed) "/" eps2 (CHILDINFO ("SUBSCRIBED"))',
        b'* LIST (\\Subscribed) "/" eps2/mamba',
    ]
    assert lines(wire, 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "foo2*"') == [
        b'* LIST (\\Subscribed) "/" foo2/bar1',
        b'* LIST (\\Subscribed) "/" foo2/bar2',
    ]


def test_list_special_use_selection(wire):
    wire.ok("CREATE Plain")
    assert lines(wire, 'LIST (SPECIAL-USE) "" "*"') == [
        b'* LIST (\\Archive) "/" Archive',
        b'* LIST (\\Drafts) "/" Drafts',
        b'* LIST (\\Junk) "/" Junk',
        b'* LIST (\\Sent) "/" Sent',
        b'* LIST (\\Trash) "/" Trash',
    ]
    wire.ok("UNSUBSCRIBE Junk")
    assert lines(wire, 'LIST (SPECIAL-USE SUBSCRIBED) "" "[JT]*"') == []
    assert lines(wire, 'LIST (SUBSCRIBED SPECIAL-USE) "" "T*" RETURN (CHILDREN)') == [
        b'* LIST (\\Subscribed \\HasNoChildren \\Trash) "/" Trash'
    ]


def test_list_return_status_follows_each_selectable_mailbox(mail, wire):
    deliver(mail, "Sent", message("one"), message("two"))
    subscribe_missing(mail, "Sent/ghost")
    size = len(message("one")) + len(message("two"))
    assert lines(wire, 'LIST "" "Sent*" RETURN (STATUS (SIZE MESSAGES UNSEEN))') == [
        b'* LIST () "/" Sent',
        b"* STATUS Sent (MESSAGES 2 UNSEEN 2 SIZE %d)" % size,
    ]
    assert lines(wire, 'LIST (SUBSCRIBED) "" "Sent*" RETURN (STATUS (MESSAGES))') == [
        b'* LIST (\\Subscribed) "/" Sent',
        b"* STATUS Sent (MESSAGES 2)",
        b'* LIST (\\Subscribed \\NonExistent) "/" Sent/ghost',
    ]
    wire.ok("UNSUBSCRIBE Sent")
    assert lines(wire, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Sent" RETURN (STATUS (MESSAGES))') == [
        b'* LIST () "/" Sent (CHILDINFO ("SUBSCRIBED"))'
    ]


@pytest.mark.parametrize(
    "command",
    [
        'LIST (RECURSIVEMATCH) "" "*"',
        'LIST (REMOTE RECURSIVEMATCH) "" "*"',
        'LIST (SPECIAL-USE RECURSIVEMATCH) "" "*"',
        'LIST (BOGUS) "" "*"',
        'LIST ("SUBSCRIBED") "" "*"',
        'LIST "" "*" RETURN (BOGUS)',
        'LIST "" "*" RETURN (STATUS)',
        'LIST "" "*" RETURN (STATUS ())',
        'LIST "" "*" RETURN (STATUS (BOGUS))',
        'LIST "" "*" RETURN (STATUS MESSAGES)',
        'LIST "" "*" RETURN',
        'LIST "" "*" RETURN CHILDREN',
        'LIST "" "*" BACK (CHILDREN)',
        'LIST "" "*" extra',
        'LIST "" ("*" ("nested"))',
        'LIST ""',
        "LIST",
        "LIST () ",
        'LIST ("" "*")',
    ],
)
def test_list_bad_arguments_are_bad_and_the_session_goes_on(wire, command):
    assert wire.status(command.rstrip()).startswith(b"BAD")
    assert lines(wire, 'LIST "" INBOX') == [b'* LIST (\\HasNoChildren) "/" INBOX']


def test_list_works_with_imaplib(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    assert client.create("Reports/2026")[0] == "OK"
    typ, data = client.list('""', "Reports*")
    assert (typ, data) == (
        "OK",
        [b'(\\HasChildren) "/" Reports', b'(\\HasNoChildren) "/" Reports/2026'],
    )
    assert client.subscribe("Reports/2026")[0] == "OK"
    assert client.lsub('""', "Reports/*") == ("OK", [b'() "/" Reports/2026'])
    client.logout()


# --- LSUB ---------------------------------------------------------------------------------


def test_lsub_shows_subscribed_names_and_noselect_parents(mail, wire):
    unsubscribe_defaults(wire)
    wire.ok("SUBSCRIBE Sent")
    subscribe_missing(mail, "far/away/name")
    assert lines(wire, 'LSUB "" "*"') == [
        b'* LSUB (\\Sent) "/" Sent',
        b'* LSUB () "/" far/away/name',
    ]
    assert lines(wire, 'LSUB "" "%"') == [
        b'* LSUB (\\Sent) "/" Sent',
        b'* LSUB (\\Noselect) "/" far',
    ]
    assert lines(wire, 'LSUB "far/" "%"') == [b'* LSUB (\\Noselect) "/" far/away']


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ('LSUB ""', b"BAD"),
        ('LSUB "" "*" extra', b"BAD"),
        ('LSUB () "" "*"', b"BAD"),
        ('LSUB "" ("*")', b"BAD"),
    ],
)
def test_lsub_bad_arguments(wire, command, answer):
    assert wire.status(command).startswith(answer)
    wire.ok("NOOP")


def test_lsub_is_not_an_imap4rev2_command(wire):
    wire.ok("ENABLE IMAP4rev2")
    assert wire.status('LSUB "" "*"').startswith(b"BAD")
    assert lines(wire, 'LIST (SUBSCRIBED) "" "INBOX"') == [
        b'* LIST (\\Subscribed \\HasNoChildren) "/" INBOX'
    ]


def test_capabilities_announce_the_mailbox_extensions(wire):
    (line,) = wire.ok("CAPABILITY")
    words = set(line.split()[2:])
    expected = {b"LIST-EXTENDED", b"LIST-STATUS", b"SPECIAL-USE", b"CREATE-SPECIAL-USE"}
    assert expected | {b"CHILDREN", b"NAMESPACE", b"STATUS=SIZE"} <= words


# --- repeated LISTs (answers kept by what they are made of) --------------------------------


def test_a_repeated_list_follows_every_change_of_mailboxes_and_subscriptions(wire):
    command = 'LIST (SUBSCRIBED) "" "Work*"'
    assert lines(wire, command) == []
    wire.ok("CREATE Work")
    assert lines(wire, command) == []
    wire.ok("SUBSCRIBE Work")
    assert lines(wire, command) == [b'* LIST (\\Subscribed) "/" Work']
    wire.ok("CREATE Work/Sub")
    assert lines(wire, 'LIST "" "Work*"') == [
        b'* LIST (\\HasChildren) "/" Work',
        b'* LIST (\\HasNoChildren) "/" Work/Sub',
    ]
    wire.ok("RENAME Work/Sub Work/Other")
    wire.ok("DELETE Work/Other")
    assert lines(wire, 'LIST "" "Work*"') == [b'* LIST (\\HasNoChildren) "/" Work']


def test_a_repeated_list_answers_in_the_dialect_of_the_session(wire):
    wire.ok('CREATE "Caf&AOk-"')
    assert lines(wire, 'LIST "" "Caf*"') == [b'* LIST (\\HasNoChildren) "/" Caf&AOk-']
    wire.ok("ENABLE UTF8=ACCEPT")
    assert lines(wire, 'LIST "" "Caf*"') == [b'* LIST (\\HasNoChildren) "/" "Caf\xc3\xa9"']
