"""IMAP speed against the reference Dovecot, by hand: `python bench/imap.py [-n N] [--imaptest]`.

Starts elektromail in a child process (so the client here does not share its interpreter) and,
in the same run, measures it and Dovecot (127.0.0.1:11143, ../shared/reference/start-dovecot.sh;
started by that script when it is not running) on the lines of issue 15:

- one command at a time with a plain `imaplib` client, in a mailbox of N messages of about
  4 KB (bench/imap_corpus.py): UID SEARCH FROM / SUBJECT / HEADER Message-ID / SEEN /
  LARGER / TEXT, UID SORT and THREAD, FETCH 1:* (FLAGS) (CHANGEDSINCE n) with 1 % changed,
  a one-message FETCH and an APPEND with a synchronizing literal; median and p90 milliseconds
  (--only picks some of them);
- under load: --load-clients sessions looping one random FETCH and one UID SEARCH FROM;
- in bulk, with a raw pipelining client, N messages of about 2 KB: SELECT, envelope and body
  FETCH 1:*, UID SEARCH TEXT, UID STORE 1:*, and SELECT of a mailbox of --big messages;
- with --imaptest, Dovecot's imaptest stress profiles (persistent sessions and default).

Then one table, with the ratio elektromail/Dovecot of each line and which server is ahead.
Dovecot's mailboxes are scratch ones (bench-*) in --dovecot-account, deleted at the end; a local
Dovecot is filled by writing its Maildir (its APPEND fsyncs each message), --dovecot-fill append
to fill it over IMAP instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from imap_corpus import Message, corpus, write_mbox
from imap_latency import Load, Timing, measure_load, measure_one_commands
from imap_stress import IMAPTEST, PROFILES, Stress, run_imaptest
from imap_targets import (
    Client,
    Target,
    busy_since,
    cpu_seconds,
    dovecot_available,
    dovecot_home,
    drop,
    fill,
    machine_jiffies,
    rss_mb,
    start_elektromail,
)


def message(i: int) -> bytes:
    """About 2 KB, cycling through plain, alternative, mixed-with-attachment and nested."""
    head = (
        f"From: Sender {i} <sender{i}@example.com>\r\nTo: User <user@example.com>\r\n"
        f"Subject: Benchmark message {i}\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{i}@bench.example>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    text = (b"The quick brown fox jumps over the lazy dog. " * 20)[:900]
    needle = b" needle " if i % 10 == 0 else b" "
    shape = i % 4
    if shape == 0:
        return head + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + needle + text
    if shape == 1:
        return (
            head + b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n'
            b"--a\r\nContent-Type: text/plain\r\n\r\n" + text + needle + b"\r\n"
            b"--a\r\nContent-Type: text/html\r\n\r\n<p>" + text + b"</p>\r\n--a--\r\n"
        )
    if shape == 2:
        return (
            head + b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
            b"--m\r\nContent-Type: text/plain\r\n\r\n" + text + needle + b"\r\n"
            b"--m\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n'
            + b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n" * 12
            + b"--m--\r\n"
        )
    return (
        head + b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
        b'--o\r\nContent-Type: multipart/alternative; boundary="i"\r\n\r\n'
        b"--i\r\nContent-Type: text/plain\r\n\r\n" + text[:600] + needle + b"\r\n"
        b"--i\r\nContent-Type: text/html\r\n\r\n<b>" + text[:600] + b"</b>\r\n--i--\r\n"
        b"--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@y\r\n\r\nhi\r\n"
        b"--o--\r\n"
    )


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def run_lines(client: Client, mailbox: bytes, n: int) -> dict[str, float]:
    """The bulk lines, in a mailbox of n messages: operations (or messages) per second."""
    results = {}
    results["SELECT (ops/s)"] = 1 / timed(lambda: client.command(b"SELECT " + mailbox), 5)
    # The first ENVELOPE FETCH after the fill is where a server that parses on first need
    # (both do: elektromail after its 250/OK, Dovecot into its cache) pays for it: apart.
    envelope = b"FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"
    results["FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), first (msgs/s)"] = n / timed(
        lambda: client.command(envelope), 1
    )
    results["FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), again (msgs/s)"] = n / timed(
        lambda: client.command(envelope), 3
    )
    results["FETCH 1:* BODY.PEEK[] (msgs/s)"] = n / timed(
        lambda: client.command(b"FETCH 1:* BODY.PEEK[]"), 3
    )
    try:
        search = timed(lambda: client.command(b"UID SEARCH TEXT needle"), 3)
        results["UID SEARCH TEXT (msgs/s)"] = n / search
    except RuntimeError as e:
        print(f"  UID SEARCH TEXT failed: {e}", file=sys.stderr)
    results["UID STORE 1:* +FLAGS (msgs/s)"] = n / timed(
        lambda: client.command(b"UID STORE 1:* +FLAGS.SILENT (\\Flagged)"), 1
    )
    client.command(b"UNSELECT")
    return results


def select_latency(client: Client, mailbox: bytes) -> float:
    client.command(b"SELECT INBOX")
    return min(timed(lambda: client.command(b"SELECT " + mailbox)) for _ in range(5)) * 1000


def bench_bulk(target: Target, n: int, big: int, suffix: str) -> dict[str, float]:
    boxes = [f"bench-bulk-{suffix}", f"bench-big-{suffix}"]
    try:
        how = fill(target, boxes[0], [message(i) for i in range(n)])
        if big:
            tiny = [b"Subject: s%d\r\n\r\nx\r\n" % i for i in range(big)]
            fill(target, boxes[1], tiny)
        print(f"  {target.name}: bulk mailboxes filled by {how}", flush=True)
        client = Client.login(target)
        try:
            results = run_lines(client, boxes[0].encode(), n)
            if big:
                results[f"SELECT of {big} messages (ms)"] = select_latency(
                    client, boxes[1].encode()
                )
        finally:
            client.close()
    finally:
        drop(target, boxes)
    return results


class Report:
    """The lines measured so far, by section, and notes printed under the table."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, dict[str, object]]] = {}
        self.notes: list[str] = []

    def add(self, section: str, line: str, target: str, value: object) -> None:
        self.sections.setdefault(section, {}).setdefault(line, {})[target] = value

    def print(self, names: list[str]) -> None:
        width = 60
        print(f"{'line':{width}}" + "".join(f"{n:>22}" for n in names) + f"{'e/d':>8}  ahead")
        for section, lines in self.sections.items():
            print(section)
            for line, values in lines.items():
                print(f"  {line:{width - 2}}" + _cells(values, names))
        for note in self.notes:
            print(note)


def _cells(values: dict[str, object], names: list[str]) -> str:
    out = "".join(f"{_show(values.get(n)):>22}" for n in names)
    numbers = [_number(values.get(n)) for n in names]
    if len(names) == 2 and None not in numbers and numbers[1]:
        lower_is_better = isinstance(values[names[0]], Timing) or _is_ms(values[names[0]])
        ratio = numbers[0] / numbers[1]
        ahead = names[1] if (ratio > 1) == lower_is_better else names[0]
        out += f"{ratio:8.2f}  {ahead if abs(ratio - 1) > 0.005 else '-'}"
    return out


class Ms(float):
    """A time in milliseconds (lower is better), shown like the other numbers."""


def _is_ms(value: object) -> bool:
    return isinstance(value, Ms)


def _number(value: object) -> float | None:
    if isinstance(value, Timing):
        return value.median_ms
    if isinstance(value, Load | Stress):
        return value.commands_per_second
    return value if isinstance(value, float | int) else None


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Timing):
        return f"{value.median_ms:.2f} ({value.p90_ms:.2f})"
    if isinstance(value, Load | Stress):
        return f"{value.commands_per_second:,.1f}"
    return f"{value:,.1f}"


def one_command_section(args, targets: list[Target], suffix: str, report: Report) -> None:
    messages = corpus(args.n)
    box, append_box = f"bench-one-{suffix}", f"bench-append-{suffix}"
    mean = sum(len(m.raw) for m in messages) / len(messages) / 1024
    try:
        for target in targets:
            began = time.perf_counter()
            how = fill(target, box, [m.raw for m in messages], [m.flags for m in messages])
            fill(target, append_box, [])
            took = time.perf_counter() - began
            print(f"  {target.name}: {len(messages)} messages filled by {how} in {took:.0f} s")
            report.notes.append(
                f"{target.name}: the one-command mailbox ({len(messages)} messages, mean"
                f" {mean:.1f} KB) was filled by {how} in {took:.0f} s"
            )
        note_rss(targets, report, "after filling the one-command mailbox")
        if not args.no_latency:
            section = (
                f"one command, imaplib, {len(messages)} messages of ~{mean:.1f} KB: median (p90) ms"
            )
            timings = measure_one_commands(
                targets, box, append_box, messages, args.repeat, args.repeat_quick, only=args.only
            )
            for line, per_target in timings.items():
                for name, timing in per_target.items():
                    report.add(section, line, name, timing)
        if not args.no_load:
            load_section(args, targets, box, messages, report)
    finally:
        for target in targets:
            drop(target, [box, append_box])


def load_section(args, targets, box: str, messages: list[Message], report: Report) -> None:
    section = "under load (commands/s)"
    both = f"{args.load_clients} sessions x (FETCH n + UID SEARCH FROM), {args.load_secs:g} s"
    alone = f"{args.load_clients} sessions x FETCH n, {args.load_secs:g} s"
    for line, search in ((both, True), (alone, False)):
        for target in targets:
            _one_load(args, target, box, messages, report, section, line, search)


def _one_load(args, target, box, messages, report, section: str, line: str, search: bool) -> None:
    load = measure_load(
        target,
        box,
        len(messages),
        args.load_clients,
        args.load_secs,
        target.pid,
        search,
    )
    print(f"  {target.name}: {line}: {load.commands_per_second:,.1f} commands/s", flush=True)
    report.add(section, line, target.name, load)
    server = "" if load.server_cpu is None else f", server {load.server_cpu / load.seconds:.0%}"
    report.notes.append(
        f"{target.name} under load: {load.commands} commands; CPU of a core: clients"
        f" {load.client_cpu / load.seconds:.0%}{server}; machine (2 cores, everyone's)"
        f" {load.machine_busy:.0%} busy"
    )


def bulk_section(args, targets: list[Target], suffix: str, report: Report) -> None:
    section = f"bulk, raw pipelining client, {args.bulk_n} messages of ~2 KB"
    for target in targets:
        for line, value in bench_bulk(target, args.bulk_n, args.big, suffix).items():
            report.add(section, line, target.name, Ms(value) if line.endswith("(ms)") else value)
        print(f"  {target.name}: bulk lines done", flush=True)
    note_rss(targets, report, "after the bulk lines (their mailboxes deleted)")


def imaptest_section(args, targets: list[Target], suffix: str, report: Report) -> None:
    section = (
        f"imaptest stress, {args.imaptest_clients} clients, {args.imaptest_secs} s (commands/s)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-imap-") as scratch:
        mbox = args.imaptest_mbox
        if mbox is None:
            mbox = Path(scratch) / "corpus.mbox"
            write_mbox(str(mbox), corpus(200, seed=7))
        for profile, options in PROFILES.items():
            for target in targets:
                box = f"bench-stress-{suffix}"
                fill(target, box, [])
                before, machine = cpu_seconds(target.pid), machine_jiffies()
                try:
                    stress = run_imaptest(
                        args.imaptest_binary,
                        target,
                        box,
                        mbox,
                        options,
                        args.imaptest_clients,
                        args.imaptest_secs,
                    )
                finally:
                    drop(target, [box])
                after, stress.machine_busy = cpu_seconds(target.pid), busy_since(machine)
                if before is not None and after is not None:
                    stress.server_cpu = after - before
                print(
                    f"  {target.name}: imaptest {profile}: {stress.commands_per_second:,.1f}"
                    f" commands/s, {stress.errors} error lines",
                    flush=True,
                )
                report.add(section, profile, target.name, stress)
                cpu = (
                    ""
                    if stress.server_cpu is None
                    else f"; server CPU {stress.server_cpu / args.imaptest_secs:.0%} of a core"
                )
                report.notes.append(
                    f"{target.name} imaptest {profile}: totals {stress.totals};"
                    f" {stress.errors} error lines{cpu}; machine {stress.machine_busy:.0%} busy"
                    + "".join(f"\n    {e}" for e in stress.first_errors)
                )
            note_rss(targets, report, f"after imaptest {profile}")
        report.notes.append(f"imaptest mbox: {args.imaptest_mbox or 'generated, 200 messages'}")


def note_rss(targets: list[Target], report: Report, when: str) -> None:
    for target in targets:
        rss = rss_mb(target.pid)
        if rss is not None:
            report.notes.append(f"{target.name} RSS {when}: {rss:.0f} MB")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def dovecot_version() -> str:
    try:
        done = subprocess.run(["/usr/sbin/dovecot", "--version"], capture_output=True, check=True)
        return "Dovecot " + done.stdout.decode().split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "Dovecot"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("-n", type=int, default=10_000, help="messages of ~4 KB for the one-command lines")
    add("--bulk-n", type=int, help="messages of ~2 KB for the bulk lines (default: -n)")
    add("--big", type=int, default=100_000, help="messages for SELECT latency (0: skip)")
    add("--repeat", type=int, default=25, help="repetitions of each SEARCH line")
    add("--repeat-quick", type=int, default=200, help="repetitions of FETCH and APPEND")
    add("--load-clients", type=int, default=10)
    add("--load-secs", type=float, default=20)
    add("--no-latency", action="store_true", help="skip the one-command lines")
    add("--only", help="only the one-command lines whose name holds this text, e.g. CHANGEDSINCE")
    add("--no-load", action="store_true", help="skip the load line")
    add("--no-bulk", action="store_true", help="skip the bulk lines")
    add("--imaptest", action="store_true", help="run imaptest's stress profiles too")
    add("--imaptest-secs", type=int, default=20)
    add("--imaptest-clients", type=int, default=10)
    add("--imaptest-mbox", type=Path, help="mbox to APPEND from (default: 200 of the corpus)")
    add("--imaptest-binary", type=Path, default=IMAPTEST)
    add("--no-dovecot", action="store_true", help="skip the Dovecot comparison")
    add("--dovecot", default="127.0.0.1:11143", help="HOST:PORT of the reference Dovecot")
    add("--dovecot-account", default="bob:bob", help="USER:PASS for the scratch mailboxes")
    add("--dovecot-fill", choices=["auto", "append"], default="auto")
    add("--db", help="elektromail's SQLite file (default: in memory)")
    args = parser.parse_args()
    if args.bulk_n is None:
        args.bulk_n = args.n
    return args


def main() -> None:
    args = parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines, when written to a file
    started, began = loadavg(), time.monotonic()
    print(f"load average at start: {started}", flush=True)
    process, port = start_elektromail(["--db", args.db] if args.db else [])
    targets = [Target("elektromail", "127.0.0.1", port, "user", "pass", pid=process.pid)]
    host, _, dovecot_port = args.dovecot.rpartition(":")
    user, _, password = args.dovecot_account.partition(":")
    if not args.no_dovecot and dovecot_available(host, int(dovecot_port)):
        home = dovecot_home(user) if args.dovecot_fill == "auto" else None
        targets.append(Target("dovecot", host, int(dovecot_port), user, password, None, home))
    suffix = uuid.uuid4().hex[:8]
    report = Report()
    note_rss(targets, report, "at start")
    try:
        if not (args.no_latency and args.no_load):
            one_command_section(args, targets, suffix, report)
        if not args.no_bulk:
            bulk_section(args, targets, suffix, report)
        if args.imaptest:
            imaptest_section(args, targets, suffix, report)
        note_rss(targets, report, "at the end, bench mailboxes deleted")
    finally:
        process.terminate()
        process.wait()
    print(f"\nIMAP benchmark: elektromail against {dovecot_version()}, same run")
    print(
        f"load average (1, 5, 15 min): at start {started}, at the end {loadavg()};"
        f" {os.cpu_count()} cores; the run took {time.monotonic() - began:.0f} s"
    )
    print(
        f"-n {args.n} --bulk-n {args.bulk_n} --big {args.big} --repeat {args.repeat}"
        f" --repeat-quick {args.repeat_quick} --load-clients {args.load_clients}"
        f" --load-secs {args.load_secs:g}"
        + (f" --imaptest-secs {args.imaptest_secs}" if args.imaptest else "")
        + f"; e/d is elektromail/{targets[-1].name}"
    )
    report.print([t.name for t in targets])


if __name__ == "__main__":
    main()
