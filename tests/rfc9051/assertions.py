"""RFC-level assertions on command results: tagged status, untagged responses, response
codes, capabilities. Failure messages carry the server's answer so that a failing test
explains itself against any server."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tests.rfc9051.client import Result, quote
from tests.rfc9051.response import (
    Esearch,
    ListEntry,
    Response,
    esearch,
    fetch_items,
    list_entry,
    status_items,
    string_value,
    uid_set_in_order,
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


# Extensions IMAP4rev2 folds in (RFC 9051 Appendix E): a rev2 session has them whether or not
# their capability name is advertised.
FOLDED_INTO_REV2 = frozenset(
    {"UNSELECT", "UIDPLUS", "ESEARCH", "SEARCHRES", "MOVE", "BINARY", "IDLE", "NAMESPACE"}
)


def require_extension(client, capabilities: Iterable[str], name: str) -> None:
    """Skip unless `client` may use extension `name`: advertised, or folded into the
    IMAP4rev2 dialect the session speaks."""
    if client.dialect == "rev2" and name.upper() in FOLDED_INTO_REV2:
        return
    require(capabilities, name)


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


# --- selected state: FETCH, SEARCH, EXPUNGE -------------------------------------------------


def fetched(result: Result) -> dict[int, dict[str, object]]:
    """The untagged FETCH responses by message sequence number; the items of several
    responses for one message are merged (later ones win)."""
    found: dict[int, dict[str, object]] = {}
    for response in result.of("FETCH"):
        found.setdefault(response.number, {}).update(fetch_items(response))
    return found


def fetch_one(client, sequence: str, items: str, uid: bool = False) -> dict[str, object]:
    """FETCH (or UID FETCH) of one message: asserts OK and exactly one message answered."""
    result = client.command(*(["UID"] if uid else []), "FETCH", sequence, items)
    assert_ok(result)
    found = fetched(result)
    assert len(found) == 1, f"expected FETCH data for one message; {_show(result)}"
    return next(iter(found.values()))


def message_flags(items: dict[str, object]) -> set[str]:
    """The FLAGS of a FETCH response, lower-cased, without the IMAP4rev1 session flag
    \\Recent (RFC 3501 §2.3.2), which the server sets on its own."""
    return flag_set(items["FLAGS"]) - {"\\recent"}


def search_hits(result: Result) -> list[int]:
    """What a SEARCH or UID SEARCH without RETURN found: the numbers of the one untagged
    SEARCH response (IMAP4rev1, RFC 3501 §7.2.5) or the ALL of the one ESEARCH response
    (IMAP4rev2, RFC 9051 §7.3.4), sorted."""
    assert_ok(result)
    searches, esearches = result.of("SEARCH"), result.of("ESEARCH")
    assert len(searches) + len(esearches) == 1, (
        f"expected exactly one SEARCH or ESEARCH response; {_show(result)}"
    )
    if searches:
        return sorted(int(n) for n in searches[0].data)
    return esearch(esearches[0]).all


def one_esearch(result: Result) -> Esearch:
    """The single ESEARCH response of a command (RFC 9051 §6.4.4: "all options specified
    above MUST result in a single ESEARCH response")."""
    responses = assert_untagged(result, "ESEARCH", count=1)
    return esearch(responses[0])


def apply_expunges(uids: list[int], result: Result) -> list[int]:
    """Replay the untagged EXPUNGE responses of `result` on `uids` (the session's view,
    index = sequence number - 1) with the immediate decrement rule of RFC 9051 §7.5.1; also
    checks that no EXISTS reduces the number of messages (RFC 9051 §5.2). Returns the UIDs
    left."""
    left = list(uids)
    for response in result.untagged:
        if response.kind == "EXPUNGE":
            assert 1 <= response.number <= len(left), (
                f"EXPUNGE {response.number} outside 1:{len(left)}; {_show(result)}"
            )
            del left[response.number - 1]
        elif response.kind == "EXISTS":
            assert response.number >= len(left), (
                f"EXISTS {response.number} reduces {len(left)} messages; {_show(result)}"
            )
    return left


def message_count(client, name: str) -> int:
    """STATUS (MESSAGES) of `name`."""
    result = client.status(name, "MESSAGES")
    assert_ok(result)
    return assert_status_items(result, name)["MESSAGES"]


def mailbox_contents(connect, name: str) -> dict[int, dict[str, object]]:
    """UID -> (BODY[], FLAGS, INTERNALDATE) of every message of `name`, read by a fresh
    session with EXAMINE."""
    other = connect(login=True)
    result = other.select(name, examine=True)
    assert_ok(result)
    if exists_count(result) == 0:
        return {}
    result = other.command("FETCH", "1:*", "(UID BODY.PEEK[] FLAGS INTERNALDATE)")
    assert_ok(result)
    return {
        int(items["UID"]): {
            "body": items["BODY[]"],
            "flags": message_flags(items),
            "date": str(items["INTERNALDATE"]),
        }
        for items in fetched(result).values()
    }


def copyuid_map(code_data) -> tuple[int, dict[int, int]]:
    """[COPYUID uidvalidity source-set destination-set] as (uidvalidity, {source: dest})."""
    validity, source, destination = code_data
    sources, destinations = uid_set_in_order(source), uid_set_in_order(destination)
    assert len(sources) == len(destinations), code_data
    return int(validity), dict(zip(sources, destinations, strict=True))
