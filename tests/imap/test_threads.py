"""THREAD's algorithms and response (elektromail.imap.threads), each rule of RFC 5256 §3 and
the response of §4, on small hand-made mailboxes; the REFS cases as Dovecot answers them."""

from __future__ import annotations

import pytest

from elektromail.imap.threads import ThreadMessage, format_thread, id_ranks, thread


def msg(
    uid: int,
    message_id: str | None = None,
    references: tuple[str, ...] = (),
    *,
    date: int | None = None,
    subject: str = "",
    reply: bool = False,
) -> ThreadMessage:
    return ThreadMessage(
        uid, uid if date is None else date, subject.encode(), reply, message_id, references
    )


def answer(algorithm: str, messages: list[ThreadMessage]) -> bytes:
    return format_thread(thread(algorithm, messages, int)).rstrip(b"\r\n")


def test_the_response_examples_of_section_4():
    """RFC 5256 §4: "S: * THREAD (2)(3 6 (4 23)(44 7 96))" and "S: * THREAD ((3)(5))"."""
    trees = [
        (2, []),
        (3, [(6, [(4, [(23, [])]), (44, [(7, [(96, [])])])])]),
    ]
    assert format_thread(trees) == b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    assert format_thread([(None, [(3, []), (5, [])])]) == b"* THREAD ((3)(5))\r\n"
    assert format_thread([]) == b"* THREAD\r\n"


def test_references_link_parent_and_child():
    """1.A: "Make the first reference the parent of the second ... the second the parent of
    the third"; 1.B: "Create a parent/child link between the last reference ... and the
    current message"."""
    messages = [
        msg(1, "<a>"),
        msg(2, "<b>", ("<a>",)),
        msg(3, "<c>", ("<a>", "<b>")),
        msg(4, "<d>", ("<a>",)),
    ]
    assert answer("REFERENCES", messages) == b"* THREAD (1 (2 3)(4))"


def test_a_missing_parent_is_a_dummy_that_keeps_its_children_together():
    """1.A: "If no message can be found with a given Message ID, create a dummy message with
    this ID"; (3): a dummy with children is deleted, but "Do not promote the children if doing
    so would make them children of the root, unless there is only one child"."""
    two = [msg(1, "<b>", ("<gone>",)), msg(2, "<c>", ("<gone>",))]
    assert answer("REFERENCES", two) == b"* THREAD ((1)(2))"
    one = [msg(1, "<b>", ("<gone>",)), msg(2, "<x>")]
    assert answer("REFERENCES", one) == b"* THREAD (1)(2)"


def test_a_dummy_in_the_middle_gives_its_children_to_its_parent():
    """(3): "If it is a dummy message with children, delete it, but promote its children to
    the current level"."""
    messages = [msg(1, "<a>"), msg(2, "<c>", ("<a>", "<gone>")), msg(3, "<d>", ("<a>", "<gone>"))]
    assert answer("REFERENCES", messages) == b"* THREAD (1 (2)(3))"


def test_duplicate_and_missing_message_ids_get_unique_ones():
    """1.A: "If two or more messages have the same Message ID, then only use that Message ID
    in the first (lowest sequence number) message"; "If a message does not contain a
    Message-ID header line ... assign a unique Message ID"."""
    messages = [msg(1, "<a>"), msg(2, "<a>"), msg(3, None), msg(4, "<r>", ("<a>",))]
    assert answer("REFERENCES", messages) == b"* THREAD (1 4)(2)(3)"


def test_an_existing_link_is_kept_and_a_loop_is_never_made():
    """1.A: "If a message already has a parent, don't change the existing link" and "Do not
    create a parent/child link if creating that link would introduce a loop"."""
    messages = [
        msg(1, "<a>", ("<b>",)),  # b is a's parent
        msg(2, "<b>", ("<a>",)),  # a as b's parent would loop
        msg(3, "<c>", ("<x>", "<a>")),  # x as a's parent: a has one already
    ]
    assert answer("REFERENCES", messages) == b"* THREAD (2 1 3)"
    assert answer("REFERENCES", [msg(1, "<a>", ("<a>",))]) == b"* THREAD (1)"


def test_the_last_reference_replaces_a_parent_from_a_truncated_references_line():
    """1.B: "If the current message already has a parent, it is probably the result of a
    truncated References header line, so break the current parent/child link before creating
    the new correct one"."""
    messages = [
        msg(1, "<p>"),
        msg(2, "<q>"),
        msg(3, "<r>", ("<p>", "<s>")),  # p -> s (a dummy so far) -> r
        msg(4, "<s>", ("<q>",)),  # s says its parent is q, not p
    ]
    assert answer("REFERENCES", messages) == b"* THREAD (1)(2 4 3)"


def test_threads_and_siblings_go_in_sent_date_order():
    """(4): "Sort the messages under the root ... by sent date"; (6): "sort each set of
    siblings by sent date"; a dummy sorts by its first child."""
    messages = [
        msg(1, "<a>", date=50),
        msg(2, "<b>", ("<a>",), date=40),
        msg(3, "<c>", ("<a>",), date=30),
        msg(4, "<d>", ("<gone>",), date=10),
        msg(5, "<e>", ("<gone>",), date=20),
    ]
    assert answer("REFERENCES", messages) == b"* THREAD ((4)(5))(1 (3)(2))"


def test_threads_with_one_base_subject_are_gathered():
    """(5): a reply joins the thread of the message it answers by subject ("If the current
    message is a reply or forward and the message in the subject table is not, make the
    current message a child"); two non-replies share a new dummy."""
    replies = [
        msg(1, "<a>", subject="LUNCH"),
        msg(2, "<b>", subject="LUNCH", reply=True),
        msg(3, "<c>", subject="OTHER"),
    ]
    assert answer("REFERENCES", replies) == b"* THREAD (1 2)(3)"
    peers = [msg(1, "<a>", subject="LUNCH"), msg(2, "<b>", subject="LUNCH")]
    assert answer("REFERENCES", peers) == b"* THREAD ((1)(2))"
    # "(ii) If the thread subject is empty, skip this message."
    empty = [msg(1, "<a>"), msg(2, "<b>")]
    assert answer("REFERENCES", empty) == b"* THREAD (1)(2)"


def test_refs_does_not_gather_by_subject_and_orders_threads_by_their_newest_message():
    """Dovecot's REFS: REFERENCES without step (5); a thread's place is its newest message's."""
    messages = [
        msg(1, "<a>", subject="LUNCH", date=10),
        msg(2, "<b>", subject="LUNCH", reply=True, date=20),
        msg(3, "<c>", ("<a>",), date=90),
    ]
    assert answer("REFS", messages) == b"* THREAD (2)(1 3)"
    assert answer("REFERENCES", messages) == b"* THREAD (1 (2)(3))"


def test_refs_breaks_ties_between_dummies_by_where_their_id_comes_first():
    mailbox = [
        msg(1, "<x>", ("<late>",), date=5),
        msg(2, "<y>", ("<early>",), date=5),
        msg(3, "<z>", ("<early>",), date=5),
        msg(4, "<w>", ("<late>",), date=5),
    ]
    ranks = id_ranks([msg(9, "<early>"), *mailbox])  # some other message names <early> first
    found = format_thread(thread("REFS", mailbox, int, ranks))
    assert found == b"* THREAD ((2)(3))((1)(4))\r\n"


def test_ordered_subject_groups_by_base_subject_and_orders_by_date():
    """ORDEREDSUBJECT: "sorted by base subject and then by the sent date ... split into
    separate threads ... sorted by the sent date of the first message"; "there are no
    grandchildren"."""
    messages = [
        msg(1, subject="B", date=30),
        msg(2, subject="A", date=20),
        msg(3, subject="B", date=10),
        msg(4, subject="A", date=40),
        msg(5, subject="B", date=50),
        msg(6, subject="C", date=5),
    ]
    assert answer("ORDEREDSUBJECT", messages) == b"* THREAD (6)(3 (1)(5))(2 4)"


def test_sequence_numbers_are_written_when_asked():
    messages = [msg(10, "<a>"), msg(20, "<b>", ("<a>",))]
    found = format_thread(thread("REFERENCES", messages, {10: 1, 20: 2}.__getitem__))
    assert found == b"* THREAD (1 2)\r\n"


@pytest.mark.parametrize("algorithm", ["REFERENCES", "REFS"])
def test_a_very_deep_thread_is_answered(algorithm):
    """Hostile depth: a chain of 5,000 replies is one thread, written without recursion."""
    messages = [msg(1, "<m1>")] + [msg(i, f"<m{i}>", (f"<m{i - 1}>",)) for i in range(2, 5001)]
    found = answer(algorithm, messages)
    assert found == b"* THREAD (" + b" ".join(b"%d" % i for i in range(1, 5001)) + b")"


def test_no_messages_no_threads():
    for algorithm in ("ORDEREDSUBJECT", "REFERENCES", "REFS"):
        assert answer(algorithm, []) == b"* THREAD"
