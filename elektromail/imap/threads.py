"""THREAD's algorithms (RFC 5256 §3: ORDEREDSUBJECT and REFERENCES; REFS as Dovecot has it) and
the THREAD response: pure code over what the store keeps per message (sortkeys.py).

Where the RFC is loose this follows Dovecot 2.3: a message without subject threads with the
others without one under ORDEREDSUBJECT; step (3)'s pruning puts each message under its first
ancestor that exists, or under the top dummy; REFS is REFERENCES without the subject merge, its
threads ordered by their newest message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

__all__ = ["ALGORITHMS", "ThreadMessage", "format_thread", "id_ranks", "thread"]


class ThreadMessage(NamedTuple):
    """One searched message: `date` is the sent date in seconds (the internal date when it has
    none), `subject` the base subject (casemapped, in UTF-8: equal texts are equal bytes),
    `reply` whether its subject marked a reply or forward, `message_id` normalized or None,
    `references` its references in order."""

    uid: int
    date: int
    subject: bytes
    reply: bool
    message_id: str | None
    references: tuple[str, ...]


class _Node:
    """A message, or a dummy (`message` None) standing for a Message ID no searched message has."""

    __slots__ = (
        "children",
        "date",
        "ignore",
        "message",
        "parent",
        "parented",
        "rank",
        "reply",
        "subject_holder",
        "uid",
    )

    def __init__(self, rank: int = 0, children: list[_Node] | None = None) -> None:
        self.message: ThreadMessage | None = None
        self.parent: _Node | None = None
        self.children: list[_Node] = [] if children is None else children  # after step (3)
        self.parented = False  # some node has had it as its parent
        # the root list's facts (steps 4 and 5)
        self.date = 0
        self.uid = 0
        self.reply = False
        self.ignore = False
        self.subject_holder: _Node | None = None  # 5.B: the root this one is merged into
        self.rank = rank  # REFS' last tie-break: where its Message ID first appears


# A thread tree as the response writes it: (number or None for a dummy, children).
Tree = tuple[int | None, list["Tree"]]


def _sort_key(node: _Node) -> tuple[int, int]:
    return (node.date, node.uid)


def _fill(node: _Node) -> None:
    """A message node's sort facts: its sent date, then its UID."""
    assert node.message is not None
    node.date, node.uid = node.message.date, node.message.uid


def _sorted_children(node: _Node) -> list[_Node]:
    for child in node.children:
        _fill(child)
    return sorted(node.children, key=_sort_key) if len(node.children) > 1 else node.children


# -- REFERENCES and REFS: steps (1) to (3) ---------------------------------------------------


def _has_ancestor(node: _Node, ancestor: _Node) -> bool:
    while node is not ancestor:
        if node.parent is None:
            return False
        node = node.parent
    return True


def _link(parent: _Node, child: _Node) -> None:
    """Make `parent` the parent of `child` unless `child` has a parent already (1.A: "If a
    message already has a parent, don't change the existing link") or it would make a loop
    ("before making message A the parent of B, make sure that A is not a descendent of B")."""
    if child.parent is not None or parent is child:
        return
    # only a node that is some node's parent can be an ancestor: a chain of replies stays linear
    if child.parented and _has_ancestor(parent, child):
        return
    child.parent = parent
    parent.parented = True


def _link_messages(
    messages: Iterable[ThreadMessage], ranks: dict[str, int] | None = None
) -> list[_Node]:
    """Step (1): every node made, linked by references; the nodes in creation order. `ranks`
    gives each Message ID's rank (others, and the unique IDs, rank after all of them)."""
    by_id: dict[str, _Node] = {}
    nodes: list[_Node] = []
    ranks = ranks or {}
    unique = len(ranks)

    def node_of(message_id: str) -> _Node:
        node = by_id.get(message_id)
        if node is None:
            node = by_id[message_id] = _Node(rank=ranks.get(message_id, unique))
            nodes.append(node)
        return node

    for message in messages:
        # "If two or more messages have the same Message ID, then only use that Message ID in
        # the first (lowest sequence number) message"; no (valid) Message-ID: a unique one
        key = message.message_id
        if key is None or (key in by_id and by_id[key].message is not None):
            unique += 1
            node = _Node(rank=unique)
            nodes.append(node)
        else:
            node = node_of(key)
        node.message = message
        parent = None
        references = message.references
        if references:
            parent = node_of(references[0])
            for reference in references[1:]:  # 1.A: first the parent of the second, ...
                child = node_of(reference)
                _link(parent, child)
                parent = child
        # 1.B: the last reference is this message's parent, replacing one a truncated
        # References: of an earlier message gave it
        if node.parent is not None and node.parent is not parent:
            node.parent = None
        if parent is not None:
            _link(parent, node)
    return nodes


def _prune(nodes: list[_Node]) -> list[_Node]:
    """Steps (2) and (3): the parentless nodes are the roots; each message becomes a child of
    its first ancestor that is a message, or of the top dummy when none is. Returns the
    roots."""
    roots = []
    for node in nodes:
        if node.parent is None:
            roots.append(node)
            continue
        if node.message is None:
            continue  # a dummy in the middle: its messages go up
        parent = node.parent
        while parent.message is None and parent.parent is not None:
            parent = parent.parent
        parent.children.append(node)
    return roots


# -- REFERENCES: steps (4) to (6) ----------------------------------------------------------


def _sort_roots(roots: list[_Node]) -> list[_Node]:
    """Step (4): a dummy sorts by its first child; one with a single child gives way to it
    (the deferred part of step 3); one without children goes."""
    for i, root in enumerate(roots):
        if root.ignore:
            continue
        if root.message is not None:
            _fill(root)
            continue
        if not root.children:
            root.ignore = True
            continue
        children = _sorted_children(root)
        if len(children) == 1:
            roots[i] = children[0]
            _fill(roots[i])
        else:
            root.date, root.uid = children[0].date, children[0].uid
    return sorted(roots, key=_sort_key)


def _subject_of(root: _Node) -> tuple[bytes, bool]:
    message = root.message if root.message is not None else _sorted_children(root)[0].message
    assert message is not None
    return message.subject, message.reply


def _gather_subjects(roots: list[_Node]) -> None:
    """Step 5.B: the subject table; each root that is not the table's entry for its subject
    is pointed at the one that was when it was looked at."""
    table: dict[bytes, _Node] = {}
    for root in roots:
        if root.ignore:
            continue
        subject, reply = _subject_of(root)
        if not subject:
            continue  # (ii) an empty thread subject is skipped
        held = table.get(subject)
        if held is None:
            table[subject] = root
        elif held.message is not None and (root.message is None or (held.reply and not reply)):
            held.subject_holder = root
            table[subject] = root
        else:
            root.subject_holder = held
        root.reply = reply


def _merge_subjects(roots: list[_Node]) -> bool:
    """Step 5.C: each root pointed at another joins it; returns whether any did."""
    merged = False
    for root in list(roots):
        if root.subject_holder is None or root.ignore:
            continue
        merged = True
        held = root.subject_holder
        while held.subject_holder is not None:
            held = held.subject_holder
        if root.message is None:
            # both dummies: the current one's children become the held one's
            held.children.extend(root.children)
            root.children = []
            root.ignore = True
        elif held.message is None or (root.reply and not held.reply):
            held.children.append(root)
            root.ignore = True
        else:  # a new dummy over both, which takes the table's place
            dummy = _Node(children=[held, root])
            held.subject_holder = dummy
            held.ignore = root.ignore = True
            roots.append(dummy)
    return merged


def _references(messages: Sequence[ThreadMessage]) -> list[_Node]:
    roots = _sort_roots(_prune(_link_messages(messages)))
    _gather_subjects(roots)
    if _merge_subjects(roots):
        roots = _sort_roots(roots)
    return roots


def _refs(messages: Sequence[ThreadMessage], ranks: dict[str, int]) -> list[_Node]:
    """Dovecot's REFS: REFERENCES' steps (1) to (3), its threads ordered by their newest
    message (by the sent date; ties by the root's UID, 0 for a dummy, then by where the root's
    Message ID first appears in the mailbox, as Dovecot's index of IDs orders them)."""
    nodes = _link_messages(messages, ranks)
    roots = _prune(nodes)
    for node in nodes:
        if node.message is None:
            continue
        top = node
        while top.parent is not None:
            top = top.parent
        top.date = max(top.date, node.message.date)
    for root in roots:
        root.uid = root.message.uid if root.message is not None else 0
        if root.message is None and not root.children:
            root.ignore = True
    return sorted(roots, key=lambda root: (root.date, root.uid, root.rank))


def _tree(root: _Node, number: Callable[[int], int]) -> Tree:
    """The thread under `root`, children in date order; iterative, for threads of any depth."""

    def number_of(node: _Node) -> int | None:
        return None if node.message is None else number(node.message.uid)

    tree: Tree = (number_of(root), [])
    stack = [(root, tree[1])]
    while stack:
        node, members = stack.pop()
        for child in _sorted_children(node):
            member: Tree = (number_of(child), [])
            members.append(member)
            if child.children:
                stack.append((child, member[1]))
    return tree


# -- ORDEREDSUBJECT ------------------------------------------------------------------------


def _ordered_subject(messages: Sequence[ThreadMessage], number: Callable[[int], int]) -> list[Tree]:
    """Sorted by base subject and sent date, split where the subject changes; threads in the
    order of their first message's date (ties: its number); the first message the parent
    of all the others."""
    ordered = sorted(messages, key=lambda m: (m.subject, m.date, m.uid))
    threads: list[list[ThreadMessage]] = []
    for message in ordered:
        if threads and threads[-1][0].subject == message.subject:
            threads[-1].append(message)
        else:
            threads.append([message])
    threads.sort(key=lambda t: (t[0].date, number(t[0].uid)))
    return [(number(first.uid), [(number(m.uid), []) for m in rest]) for first, *rest in threads]


ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES", "REFS")


def id_ranks(mailbox: Iterable[ThreadMessage]) -> dict[str, int]:
    """Each Message ID's rank: the order in which the mailbox's messages (all of them, in UID
    order) first name it, as their Message-ID or in their references."""
    ranks: dict[str, int] = {}
    for message in mailbox:
        if message.message_id is not None:
            ranks.setdefault(message.message_id, len(ranks))
        for reference in message.references:
            ranks.setdefault(reference, len(ranks))
    return ranks


def thread(
    algorithm: str,
    messages: Sequence[ThreadMessage],
    number: Callable[[int], int],
    ranks: dict[str, int] | None = None,
) -> list[Tree]:
    """The threads of `messages` (in UID order) by `algorithm` (one of ALGORITHMS), with each
    message written as `number(uid)` (its UID or its sequence number). `ranks` (id_ranks of the
    whole mailbox) breaks REFS' ties as Dovecot does; without it, the searched messages'."""
    if algorithm == "ORDEREDSUBJECT":
        return _ordered_subject(messages, number)
    if algorithm == "REFERENCES":
        roots = _references(messages)
    else:
        roots = _refs(messages, id_ranks(messages) if ranks is None else ranks)
    return [
        _tree(root, number)
        for root in roots
        if not root.ignore and (root.message is not None or root.children)
    ]


def format_thread(threads: list[Tree]) -> bytes:
    """`* THREAD (2)(3 6 (4 23)(44 7 96))\r\n` (RFC 5256 §4); `* THREAD\r\n` for none.

    A member is "(n)", "(n children)", or a dummy's "(children)"; a single child follows its
    parent as "n ...", several are each parenthesized. Iterative, for threads of any depth."""
    if not threads:
        return b"* THREAD\r\n"
    out: list[str] = ["* THREAD "]
    levels = [iter(threads)]  # the members left to write at each open level
    closers = [""]  # what ends each level
    while levels:
        member = next(levels[-1], None)
        if member is None:
            levels.pop()
            out.append(closers.pop())
            continue
        number, children = member
        if not children:
            out.append(f"({number})")
            continue
        out.append("(" if number is None else f"({number} ")
        while len(children) == 1:
            number, children = children[0]
            out.append(f"{number} " if children else str(number))
        levels.append(iter(children))
        closers.append(")")
    out.append("\r\n")
    return "".join(out).encode("ascii")
