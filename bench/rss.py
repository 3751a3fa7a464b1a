"""Where elektromail's memory goes under a bulk load and what stays after it: `python
bench/rss.py [-n N] [--rounds R] [--diagnose]`.

Starts elektromail in a child process (as bench/imap.py does), then R times: fills a mailbox
with N messages of about 2 KB (bench/imap.py's bulk ones), runs the bulk lines on it (SELECT,
ENVELOPE and BODY[] FETCH 1:*, UID SEARCH TEXT, UID STORE 1:*), deletes it; and prints the
server's RSS at start, with the mailbox full, once it is emptied, and at the end, each with its
change from the start (issue 15's goal: emptied within +25 %).

--diagnose runs the server in this process instead (MailServer in a thread; the client's own
allocations are small and short-lived) and, at start and once emptied, prints what Python
holds (tracemalloc, top growth by line), SQLite's heap (sqlite3_memory_used) and glibc's
arenas (mallinfo2: in use, free kept), so a figure that stays can be told apart.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from imap import message, run_lines  # noqa: E402
from imap_targets import Client, Target, drop, fill, rss_mb, start_elektromail  # noqa: E402


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap() -> str:
    """glibc's and SQLite's view of the C heap of this process, in MB."""
    parts = []
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
        parts.append(
            f"malloc: main arena {info.arena / 2**20:.1f} MB (in use"
            f" {info.uordblks / 2**20:.1f}, free {info.fordblks / 2**20:.1f}), mmapped"
            f" {info.hblkhd / 2**20:.1f}"
        )
    except (OSError, AttributeError):
        pass
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        lib.sqlite3_memory_highwater.restype = ctypes.c_int64
        used = lib.sqlite3_memory_used() / 2**20
        high = lib.sqlite3_memory_highwater(0) / 2**20
        parts.append(f"sqlite: {used:.1f} MB (high water {high:.1f})")
    except (OSError, AttributeError):
        pass
    return "; ".join(parts)


def mappings(pid: int) -> str:
    """The process's resident memory by kind of mapping (/proc/PID/smaps), in MB: the main
    heap (brk: glibc's main arena), anonymous mappings of 64 MB or less aligned as glibc's
    thread arenas are, other anonymous ones (Python's arenas, large allocations), files."""
    kinds = {"heap": 0, "thread arenas": 0, "other anonymous": 0, "files": 0}
    kind = "files"
    biggest: list[tuple[int, int, str, str]] = []
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return ""
    for text in lines:
        fields = text.split()
        if "-" in fields[0] and not fields[0].endswith(":"):
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if name == "[heap]":
                kind = "heap"
            elif name.startswith("/"):
                kind = "files"
            elif start % (64 << 20) == 0 and end - start <= 64 << 20:
                kind = "thread arenas"
            else:
                kind = "other anonymous"
        elif fields[0] == "Rss:":
            kinds[kind] += int(fields[1])
            if kind != "files":
                biggest.append((int(fields[1]), (end - start) >> 10, kind, hex(start)))
    if os.environ.get("RSS_MAPPINGS"):  # the largest anonymous mappings, for a closer look
        print("\n".join(sorted(biggest, key=lambda x: -x[0])[:12].__repr__().split("), (")))
    return ", ".join(f"{name} {kb / 1024:.1f}" for name, kb in kinds.items())


def python_arenas() -> str:
    """What Python's small-object allocator holds (sys._debugmallocstats): its arenas of
    256 KiB each and how much of them live objects use."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if not text:  # tracemalloc's hooks hide the allocator's statistics
        return "Python arenas: not known while tracemalloc runs (--no-tracemalloc)"
    found = {}
    for line in text.splitlines():
        for key in ("# arenas allocated current", "# bytes in allocated blocks", "Total"):
            if line.startswith(key):
                found[key] = int(line.split("=")[1].replace(",", ""))
    held = found.get("Total", 0) / 2**20
    used = found.get("# bytes in allocated blocks", 0) / 2**20
    arenas = found.get("# arenas allocated current", 0)
    return f"Python arenas {arenas} ({held:.1f} MB), live blocks in them {used:.1f} MB"


def load(target: Target, n: int, name: str) -> None:
    fill(target, name, [message(i) for i in range(n)])
    client = Client.login(target)
    try:
        run_lines(client, name.encode(), n)
    finally:
        client.close()


def child(args) -> None:
    process, port = start_elektromail(["--db", args.db] if args.db else [])
    target = Target("elektromail", "127.0.0.1", port, "user", "pass", pid=process.pid)
    try:
        report(
            target,
            args,
            lambda: rss_mb(process.pid),
            lambda when: print(f"  [{when}] resident MB: {mappings(process.pid)}"),
        )
    finally:
        process.terminate()
        process.wait()


def report(target: Target, args, rss, diagnose) -> None:
    time.sleep(0.5)
    start = rss()
    print(f"RSS at start: {start:.0f} MB")
    diagnose("start")

    def line(when: str) -> None:
        now = rss()
        print(f"RSS {when}: {now:.0f} MB ({(now - start) / start * 100:+.0f} %)", flush=True)

    for round_ in range(1, args.rounds + 1):
        name = f"bench-rss-{round_}"
        load(target, args.n, name)
        line(f"round {round_}, {args.n} messages, after the bulk lines")
        drop(target, [name])
        time.sleep(args.settle)
        line(f"round {round_}, mailbox deleted")
        diagnose(f"round {round_} emptied")
    time.sleep(args.settle)
    line("at the end")


def in_process(args) -> None:
    import tracemalloc

    from elektromail.testing import MailServer

    if not args.no_tracemalloc:
        tracemalloc.start(args.frames)
    snapshots = {}
    mail = MailServer(users="user:pass", smtp_port=None, pop3_port=None, db=args.db)
    mail.start()
    target = Target("elektromail", "127.0.0.1", mail.imap_port, "user", "pass")

    def rss() -> float:
        return rss_mb(os.getpid())

    def diagnose(when: str) -> None:
        gc.collect()
        if args.clear_caches and when != "start":
            import functools

            wrappers = [o for o in gc.get_objects() if isinstance(o, functools._lru_cache_wrapper)]
            for wrapper in wrappers:
                if wrapper.cache_info().currsize:
                    name = getattr(wrapper, "__qualname__", repr(wrapper))
                    print(f"  [{when}] lru cache {name}: {wrapper.cache_info().currsize}")
                wrapper.cache_clear()
            gc.collect()
            from elektromail.store.memory import release_freed_memory

            release_freed_memory()
            print(f"  [{when}] cleared {len(wrappers)} lru caches; RSS now {rss():.0f} MB")
            print(f"  [{when}] {python_arenas()}")
        if args.no_tracemalloc:
            print(f"  [{when}] {heap()}")
            print(f"  [{when}] resident MB: {mappings(os.getpid())}")
            print(f"  [{when}] {python_arenas()}")
            return
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        traced = sum(stat.size for stat in snapshot.statistics("filename")) / 2**20
        print(f"  [{when}] Python objects (tracemalloc): {traced:.1f} MB; {heap()}")
        print(f"  [{when}] resident MB: {mappings(os.getpid())}")
        print(f"  [{when}] {python_arenas()}")
        if snapshots:
            first = next(iter(snapshots.values()))
            print(f"  [{when}] grown since start, by line:")
            for stat in snapshot.compare_to(first, "lineno")[: args.top]:
                if stat.size_diff > 0:
                    print(
                        f"    {stat.size_diff / 1024:+8.0f} KiB {stat.count_diff:+7d}"
                        f"  {stat.traceback}"
                    )
        snapshots[when] = snapshot

    try:
        report(target, args, rss, diagnose)
    finally:
        mail.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after a delete")
    parser.add_argument("--db", help="elektromail's SQLite file (default: in memory)")
    parser.add_argument("--diagnose", action="store_true", help="in this process, with detail")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--no-tracemalloc", action="store_true", help="with --diagnose")
    parser.add_argument(
        "--clear-caches",
        action="store_true",
        help="with --diagnose: once emptied, also empty every lru_cache of the process (the"
        " start-up's too, so RSS may go below where it began): what any cache still holds",
    )
    args = parser.parse_args()
    (in_process if args.diagnose else child)(args)


if __name__ == "__main__":
    main()
