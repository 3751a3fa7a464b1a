"""RFC-level assertions on command results: tagged status, untagged responses, response
codes, capabilities. Failure messages carry the server's answer so that a failing test
explains itself against any server."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tests.rfc9051.client import Result, quote
from tests.rfc9051.response import (
    ListEntry,
    Response,
    list_entry,
    status_items,
    string_value,
)


def _show(result: Result) -> str:
    return f"server answered:\n{result}"


def assert_status(result: Result, status: str, code: str | None = None) -> Response:
    """The tagged response is `status` (and carries response code `code`, when given)."""
    tagged = result.tagged
    assert tagged.kind == status, f"expected tagged {status}, got {tagged.kind}; {_show(result)}"
    if code is not None:
        assert_code(tagged, code, result)
    return tagged


def assert_ok(result: Result, code: str | None = None) -> Response:
    return assert_status(result, "OK", code)


def assert_no(result: Result, code: str | None = None) -> Response:
    return assert_status(result, "NO", code)


def assert_bad(result: Result) -> Response:
    return assert_status(result, "BAD")


def assert_not_ok(result: Result) -> Response:
    """NO or BAD: where the RFC only says "an error" without fixing which."""
    assert result.tagged.kind in ("NO", "BAD"), f"expected NO or BAD; {_show(result)}"
    return result.tagged


def assert_code(response: Response, code: str, result: Result | None = None) -> list:
    """`response` carries response code `code`; returns the code's data."""
    where = _show(result) if result is not None else f"response: {response}"
    assert response.code == code.upper(), f"expected [{code}] on {response.kind}; {where}"
    return response.code_data


def assert_untagged(result: Result, kind: str, count: int | None = None) -> list[Response]:
    """At least one (or exactly `count`) untagged `kind` responses came before the tagged one."""
    found = result.of(kind)
    if count is None:
        assert found, f"expected an untagged {kind} response; {_show(result)}"
    else:
        assert len(found) == count, (
            f"expected {count} untagged {kind} response(s), got {len(found)}; {_show(result)}"
        )
    return found


def assert_no_untagged(result: Result, kind: str) -> None:
    found = result.of(kind)
    assert not found, f"expected no untagged {kind} response; {_show(result)}"


def untagged_codes(result: Result) -> dict[str, Response]:
    """The untagged status responses (OK/NO/BAD) by response code."""
    return {r.code: r for r in result.untagged if r.is_status and r.code}


def assert_untagged_code(result: Result, code: str, kind: str = "OK") -> list:
    """An untagged `kind` ("OK") response with [code] came; returns its data."""
    for response in result.untagged:
        if response.kind == kind and response.code == code.upper():
            return response.code_data
    raise AssertionError(f"expected an untagged {kind} [{code}]; {_show(result)}")


def has_capability(capabilities: Iterable[str], name: str) -> bool:
    return name.upper() in {c.upper() for c in capabilities}


def require(capabilities: Iterable[str], *names: str) -> None:
    """Skip the test unless every capability in `names` is advertised."""
    missing = [n for n in names if not has_capability(capabilities, n)]
    if missing:
        pytest.skip(f"server does not advertise {' '.join(missing)}")


def require_any(capabilities: Iterable[str], *names: str) -> None:
    """Skip the test unless at least one capability in `names` is advertised."""
    if not any(has_capability(capabilities, n) for n in names):
        pytest.skip(f"server advertises none of {' '.join(names)}")


def capability_list(result: Result) -> list[str]:
    """The names of the (single) untagged CAPABILITY response."""
    responses = assert_untagged(result, "CAPABILITY", count=1)
    return [str(name) for name in responses[0].data]


def list_entries(result: Result, kind: str = "LIST") -> list[ListEntry]:
    return [list_entry(r) for r in result.of(kind)]


def listed(result: Result, kind: str = "LIST") -> dict[str, ListEntry]:
    """LIST/LSUB responses by mailbox name."""
    return {entry.name: entry for entry in list_entries(result, kind)}


def assert_listed(result: Result, name: str, kind: str = "LIST") -> ListEntry:
    entries = listed(result, kind)
    assert name in entries, f"expected {kind} response for {name!r}; {_show(result)}"
    return entries[name]


def assert_not_listed(result: Result, name: str, kind: str = "LIST") -> None:
    entries = listed(result, kind)
    assert name not in entries, f"did not expect {kind} response for {name!r}; {_show(result)}"


def statuses(result: Result) -> dict[str, dict[str, int]]:
    """STATUS responses by mailbox name."""
    return dict(status_items(r) for r in result.of("STATUS"))


def assert_status_items(result: Result, name: str) -> dict[str, int]:
    """The items of the STATUS response for `name`."""
    found = statuses(result)
    assert name in found, f"expected a STATUS response for {name!r}; {_show(result)}"
    return found[name]


def exists_count(result: Result) -> int:
    """The last EXISTS count of a SELECT/EXAMINE (or any other) result."""
    responses = assert_untagged(result, "EXISTS")
    return responses[-1].number


def flag_set(values: Iterable) -> set[str]:
    """Flags, compared case-insensitively as IMAP does."""
    return {string_value(v).lower() for v in values}


def assert_still_usable(client) -> None:
    """The session survives: NOOP still gets its tagged OK."""
    assert_ok(client.command("NOOP"))


def selection(result: Result) -> dict[str, object]:
    """What a SELECT/EXAMINE reported: FLAGS, EXISTS, RECENT, LIST and the OK codes
    UIDVALIDITY, UIDNEXT, PERMANENTFLAGS, UNSEEN (None when absent), READ-ONLY/READ-WRITE."""
    codes = untagged_codes(result)

    def code_number(code: str) -> int | None:
        response = codes.get(code)
        return int(response.code_data[0]) if response and response.code_data else None

    flags = result.of("FLAGS")
    permanent = codes.get("PERMANENTFLAGS")
    return {
        "FLAGS": list(flags[-1].data[0]) if flags and flags[-1].data else None,
        "EXISTS": result.of("EXISTS")[-1].number if result.of("EXISTS") else None,
        "RECENT": result.of("RECENT")[-1].number if result.of("RECENT") else None,
        "LIST": list_entries(result),
        "UIDVALIDITY": code_number("UIDVALIDITY"),
        "UIDNEXT": code_number("UIDNEXT"),
        "UNSEEN": code_number("UNSEEN"),
        "PERMANENTFLAGS": list(permanent.code_data[0]) if permanent else None,
        "ACCESS": result.tagged.code,
    }


def assert_selected_mailbox_data(result: Result, rev2: bool, name: str) -> dict[str, object]:
    """The untagged data SELECT/EXAMINE MUST send: RFC 3501 §6.3.1 (FLAGS, EXISTS, RECENT,
    OK [UIDVALIDITY], [UIDNEXT], [PERMANENTFLAGS]) or RFC 9051 §6.3.2 (FLAGS, EXISTS, LIST,
    OK [PERMANENTFLAGS], [UIDNEXT], [UIDVALIDITY])."""
    assert_ok(result)
    data = selection(result)
    required = ["FLAGS", "EXISTS", "UIDVALIDITY", "UIDNEXT", "PERMANENTFLAGS"]
    required.append("LIST" if rev2 else "RECENT")
    missing = [
        item for item in required if data[item] is None or (item == "LIST" and not data[item])
    ]
    assert not missing, f"SELECT/EXAMINE lacks {missing}; {_show(result)}"
    if rev2:
        names = [entry.name for entry in data["LIST"]]
        assert name in names, f"no LIST response naming {name!r}; {_show(result)}"
    return data


def subscribe(client, name: str) -> Result:
    return client.command("SUBSCRIBE", quote(name))


def subscribed(client, target, pattern: str) -> set[str]:
    """The subscribed names matching `pattern`: LIST (SUBSCRIBED) when the session may use it
    (IMAP4rev2 or LIST-EXTENDED), else LSUB."""
    if client.dialect == "rev2" or "LIST-EXTENDED" in target.capabilities:
        result = client.command("LIST", "(SUBSCRIBED)", quote(""), quote(pattern))
        assert_ok(result)
        return {name for name, entry in listed(result).items() if entry.has("\\Subscribed")}
    result = client.command("LSUB", quote(""), quote(pattern))
    assert_ok(result)
    return set(listed(result, "LSUB"))
