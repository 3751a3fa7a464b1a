"""Run a coverage-guided fuzzer (atheris, libFuzzer) on one of elektromail's parsers for a fixed
time, with a seed corpus taken from the test suite; see fuzz/README.md.

    python fuzz/run.py --target mime --seconds 300
    python fuzz/run.py --target all --seconds 120
    python fuzz/run.py --target imap --reproduce fuzz/crashes/imap-crash-...

Each target runs in a child process (libFuzzer exits the process when it is done) with one
worker; the parent prints a summary line with the number of executions.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # elektromail from this checkout, without installing it

MAX_LEN = {"mime": 65536, "delivery": 65536, "imap": 8192, "smtp": 8192}
STATS = re.compile(rb"^stat::(\w+):\s+(\d+)", re.M)
TARGETS = tuple(MAX_LEN)


def child(target: str, libfuzzer_args: list[str]) -> None:
    """Inside the child: instrument elektromail, then hand over to libFuzzer (never returns)."""
    import atheris

    with atheris.instrument_imports(include=["elektromail", "targets"]):
        sys.path.insert(0, str(HERE))
        import targets

    test = targets.TARGETS[target]
    atheris.Setup([sys.argv[0], *libfuzzer_args], test)
    atheris.Fuzz()


def prepare(target: str) -> tuple[Path, Path, int]:
    """Write the seeds; return (corpus directory, seed directory, seed count)."""
    sys.path.insert(0, str(HERE))
    import seeds

    seed_dir = HERE / "seeds" / target
    count = seeds.write(seeds.collect()[target], seed_dir, MAX_LEN[target])
    corpus = HERE / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    (HERE / "crashes").mkdir(exist_ok=True)
    return corpus, seed_dir, count


def fuzz(target: str, seconds: int, timeout: int, verbose: bool, extra: list[str]) -> int:
    corpus, seed_dir, count = prepare(target)
    dictionary = HERE / "dicts" / f"{target}.dict"
    args = [
        f"-max_total_time={seconds}",
        f"-max_len={MAX_LEN[target]}",
        f"-timeout={timeout}",  # one input slower than this is a finding (quadratic parsing)
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={HERE / 'crashes' / target}-",
        *([f"-dict={dictionary}"] if dictionary.exists() else []),
        *extra,
        str(corpus),  # new inputs go to the first directory
        str(seed_dir),
    ]
    log_path = HERE / "logs" / f"{target}.log"
    log_path.parent.mkdir(exist_ok=True)
    print(f"{target}: {count} seeds, fuzzing for {seconds} s (log: {log_path})", flush=True)
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", target, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = bytearray()
        for line in process.stdout:
            log.write(line)
            output += line
            if verbose or line.startswith((b"==", b"Traceback", b" ===", b"Test unit written")):
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
        code = process.wait()
    stats = {name.decode(): int(value) for name, value in STATS.findall(output)}
    elapsed = time.monotonic() - started
    crashed = code != 0 or b"Test unit written" in output
    result = "CRASH (see above and fuzz/crashes/)" if crashed else "no crash"
    print(
        f"{target}: {stats.get('number_of_executed_units', 0)} executions in {elapsed:.0f} s "
        f"({stats.get('average_exec_per_sec', 0)}/s), {stats.get('new_units_added', 0)} new "
        f"inputs, corpus {len(list(corpus.iterdir()))} files, peak RSS "
        f"{stats.get('peak_rss_mb', 0)} MB: {result}",
        flush=True,
    )
    return 1 if crashed else 0


def reproduce(target: str, paths: list[str]) -> int:
    """Run the target on saved inputs in this process, with a Python traceback on failure."""
    sys.path.insert(0, str(HERE))
    import targets

    for path in paths:
        print(f"{target}: {path}", flush=True)
        targets.TARGETS[target](Path(path).read_bytes())
    print("no failure", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], required=True)
    parser.add_argument("--seconds", type=int, default=300, help="per target (default 300)")
    parser.add_argument("--timeout", type=int, default=5, help="seconds one input may take")
    parser.add_argument("--verbose", action="store_true", help="show libFuzzer's output")
    parser.add_argument("--reproduce", nargs="+", metavar="FILE", help="run saved inputs")
    parser.add_argument("libfuzzer", nargs="*", help="after --: more libFuzzer flags")
    options = parser.parse_args(argv)
    if options.reproduce:
        if options.target == "all":
            parser.error("--reproduce needs one target")
        return reproduce(options.target, options.reproduce)
    chosen = TARGETS if options.target == "all" else (options.target,)
    failed = 0
    for target in chosen:
        failed |= fuzz(target, options.seconds, options.timeout, options.verbose, options.libfuzzer)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
