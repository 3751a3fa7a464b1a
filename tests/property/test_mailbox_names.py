"""The one mailbox-name rule (elektromail.names) as properties over any text: the doors that
take names as text and IMAP's CREATE agree, refusals are InvalidInput or NO [CANNOT] and never
anything else, and what is accepted reads back through both IMAP dialects (RFC 3501 §5.1.3
modified UTF-7 in IMAP4rev1, UTF-8 in IMAP4rev2 per RFC 9051 §5.1)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from elektromail import mutf7
from elektromail.imap import args as imap_args
from elektromail.imap import format as fmt
from elektromail.imap.dispatch import No
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import String
from elektromail.names import (
    InvalidInput,
    canonical_mailbox,
    check_mailbox_name,
    mailbox_name_problem,
)
from tests.property.budget import budget

# Names built from the characters the rule is about, so that most examples hit a rule.
PIECES = st.sampled_from(
    ["/", ".", "..", "~", "&", "-", "AOk", " ", "*", "é", "\x01", "a", "INBOX"]
)
names = st.one_of(
    st.lists(PIECES, max_size=12).map("".join),
    st.text(max_size=30),
)
REV1, REV2 = Dialect(), Dialect(rev2=True)


@budget()
@given(name=names)
@example(name="..")
@example(name="&AOk-")
@example(name="~")
def test_a_name_the_text_doors_take_is_one_imap_create_takes(name: str) -> None:
    try:
        taken = check_mailbox_name(name)
    except InvalidInput:
        return
    assert taken == canonical_mailbox(name)
    assert mailbox_name_problem(taken) is None
    assert imap_args.new_mailbox_name(taken) == taken
    # and names the same mailbox in both dialects
    wire = mutf7.encode(taken)
    assert imap_args.mailbox_name(String(wire.encode()), REV1) == taken
    assert imap_args.mailbox_name(String(taken.encode()), REV2) == taken


@budget()
@given(name=names)
def test_create_refuses_only_with_cannot_and_a_lookup_never_refuses_more(name: str) -> None:
    canonical = canonical_mailbox(name)
    try:
        imap_args.new_mailbox_name(canonical)
    except No as e:
        assert e.code == fmt.CANNOT
    looked_up = mailbox_name_problem(canonical, creating=False)
    if looked_up is not None:
        assert mailbox_name_problem(canonical) == looked_up
