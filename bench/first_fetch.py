"""The store's cost of the first FETCH after a bulk delivery, for callgrind: `python
bench/first_fetch.py -n N --items envelope [--phase fill|fetch]`.

Stores N unparsed messages of about 2 KB (bench/imap.py's bulk ones) in an in-memory store
whose idle-time parse never runs (a Clock that is not advanced), then makes the store reads
of one `FETCH 1:* (...)` (CHUNK UIDs a read, as imap/commands/fetch.py does) and prints the
wall time. Instruction counts of the fetch alone are the difference of two callgrind runs:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/first_fetch.py \\
        -n 2000 --phase fill       # then --phase fetch; compare the "Collected" totals

--tree points at another checkout (the code before a change) to compare with.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# item list -> (structure, raw, rendered, envelope_only) of the store read FETCH asks for
ITEMS = {
    "envelope": (False, False, True, True),  # UID FLAGS RFC822.SIZE ENVELOPE
    "bodystructure": (False, False, True, False),  # BODYSTRUCTURE (the whole parse)
    "header-fields": (False, True, False, False),  # BODY.PEEK[HEADER.FIELDS (...)]
    "header-fields-structure": (True, True, False, False),  # the same before this change
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--items", choices=sorted(ITEMS), default="envelope")
    parser.add_argument("--phase", choices=["fill", "fetch"], default="fetch")
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree))
    sys.path.insert(1, str(HERE))
    from imap import message
    from twisted.internet.task import Clock

    from elektromail.imap.commands.fetch import CHUNK
    from elektromail.imap.format import format_envelope, render_fetch_data
    from elektromail.store import Store
    from elektromail.store.rows import unparsed
    from elektromail.testing import call_in_reactor

    store = Store(clock=Clock())
    call_in_reactor(store.open)
    store.render = render_fetch_data
    if hasattr(store, "render_envelope"):
        store.render_envelope = format_envelope
    user = call_in_reactor(store.add_user, "user", "pass")
    box = call_in_reactor(store.create_mailbox, user.id, "bulk")
    for start in range(0, args.n, 500):
        batch = [unparsed(message(i)) for i in range(start, min(args.n, start + 500))]
        call_in_reactor(store.append_named_all, user.id, "bulk", batch)
    if args.phase == "fill":
        return
    structure, raw, rendered, envelope_only = ITEMS[args.items]
    extra = {}
    if "envelope_only" in inspect.signature(store.fetch).parameters:
        extra["envelope_only"] = envelope_only
    uids = list(range(1, args.n + 1))
    began = time.perf_counter()
    for start in range(0, len(uids), CHUNK):
        call_in_reactor(
            store.fetch,
            box.id,
            uids[start : start + CHUNK],
            structure=structure,
            raw=raw,
            rendered=rendered,
            **extra,
        )
    took = time.perf_counter() - began
    print(
        f"{args.items}: first FETCH of {args.n}: {took * 1000:.0f} ms, {args.n / took:.0f} msgs/s"
    )


if __name__ == "__main__":
    main()
