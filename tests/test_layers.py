"""The house rules, checked on the source: protocols reach the store only through the post
office, and imports run down the rows of docs/ARCHITECTURE.md, never up or sideways between
protocols. Read from the code's own syntax tree; nothing is run."""

from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import is_dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "elektromail"
PROTOCOLS = ("imap", "smtp", "pop3", "http")

# Rows, top to bottom (docs/ARCHITECTURE.md): a module may import from its own row's package
# and from rows below it. Keys are module-name prefixes; the longest matching one decides.
ROWS: dict[str, int] = {
    "elektromail.__main__": 6,
    "elektromail.pytest_plugin": 6,
    "elektromail.tap": 5,
    "elektromail.testing": 5,
    "elektromail.service": 4,
    "elektromail.workers": 4,
    "elektromail.imap": 3,
    "elektromail.smtp": 3,
    "elektromail.pop3": 3,
    "elektromail.http": 3,
    "elektromail.postoffice": 2,
    "elektromail.preload": 2,
    "elektromail.store": 1,
}
# Everything else is row 0, pure code that any row may use: mime, config, tls, events, rules,
# dsn, mailtext... It imports no store, post office or protocol.
PURE = 0


def _modules(under: Path):
    for path in sorted(under.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _row(module: str) -> int:
    best, row = "", PURE
    for prefix, value in ROWS.items():
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best, row = prefix, value
    return row


def _package(module: str) -> str:
    """The row's package a module belongs to: `elektromail.imap` for imap/commands/fetch."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _imports(tree: ast.AST, module: str, is_package: bool):
    """(imported module, names or None) for each import, relative ones resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name, [alias.name for alias in node.names]


SOURCES = list(_modules(PACKAGE))
PROTOCOL_SOURCES = [
    (module, path) for module, path in SOURCES if module.split(".")[1:2] in ([p] for p in PROTOCOLS)
]


def test_the_protocol_modules_are_found():
    names = {module.split(".")[1] for module, _ in PROTOCOL_SOURCES}
    assert names == set(PROTOCOLS)
    assert len(PROTOCOL_SOURCES) > 30


@pytest.mark.parametrize(("module", "path"), PROTOCOL_SOURCES, ids=[m for m, _ in PROTOCOL_SOURCES])
def test_a_protocol_module_never_touches_the_store(module, path):
    """DESIGN.md, "One door for change": protocols call the post office, never the store.
    Any `x.store` attribute (a store object reached through the post office, a context or a
    factory) is a call around the door."""
    tree = ast.parse(path.read_text(), str(path))
    found = [
        f"{path.name}:{node.lineno} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("store", "_store")
    ]
    assert found == []


def _allowed_from_store(obj: object) -> bool:
    """What a protocol may import from elektromail.store: row types (dataclasses, named
    tuples, aliases) and error types, never the Store or one of its operation mixins, and no
    function (a rule the protocols share belongs one row down, in pure code)."""
    if inspect.isclass(obj):
        if issubclass(obj, BaseException) or is_dataclass(obj):
            return True
        return not any(name.endswith(("Ops", "Store")) for name in (obj.__name__,))
    return not callable(obj) and not inspect.ismodule(obj)


@pytest.mark.parametrize(("module", "path"), PROTOCOL_SOURCES, ids=[m for m, _ in PROTOCOL_SOURCES])
def test_a_protocol_module_imports_only_row_and_error_types_from_the_store(module, path):
    tree = ast.parse(path.read_text(), str(path))
    refused = []
    for line, imported, names in _imports(tree, module, path.name == "__init__.py"):
        if imported != "elektromail.store" and not imported.startswith("elektromail.store."):
            continue
        if names is None:
            refused.append(f"{path.name}:{line} import {imported}")
            continue
        source = importlib.import_module(imported)
        for name in names:
            if not _allowed_from_store(getattr(source, name)):
                refused.append(f"{path.name}:{line} {name} from {imported}")
    assert refused == []


@pytest.mark.parametrize(("module", "path"), SOURCES, ids=[m for m, _ in SOURCES])
def test_imports_run_down_the_rows(module, path):
    """A module imports only from its own package and from rows below its own; the three
    protocols never import each other."""
    tree = ast.parse(path.read_text(), str(path))
    mine = _row(module)
    wrong = []
    for line, imported, _names in _imports(tree, module, path.name == "__init__.py"):
        if not imported.startswith("elektromail"):
            continue
        if _package(imported) == _package(module):
            continue
        above = _row(imported) > mine
        sideways = _row(imported) == mine and mine > PURE  # pure modules may share
        if (above or sideways) and not _is_type_only(tree, line):
            wrong.append(f"{path.name}:{line} {imported} (row {_row(imported)} >= {mine})")
    assert wrong == []


def _is_type_only(tree: ast.AST, line: int) -> bool:
    """An import under `if TYPE_CHECKING:` names a type for annotations and runs nothing."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            if any(getattr(child, "lineno", None) == line for child in ast.walk(node)):
                return True
    return False


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("from elektromail.store import Store", False),
        ("from elektromail.store import NoSuchMailbox", True),
        ("from elektromail.store import MailboxRow", True),
        ("from elektromail.store.messages import MessageOps", False),
        ("import elektromail.store", False),
    ],
    ids=["store-class", "error-type", "row-type", "ops-mixin", "whole-module"],
)
def test_the_store_import_check_tells_types_from_the_store(tmp_path, source, allowed):
    """The check above can fail: each of these lines is judged as a protocol module's."""
    path = tmp_path / "probe.py"
    path.write_text(source + "\n")
    tree = ast.parse(source)
    refused = []
    for _line, imported, names in _imports(tree, "elektromail.imap.probe", False):
        if names is None:
            refused.append(imported)
            continue
        source_module = importlib.import_module(imported)
        refused += [n for n in names if not _allowed_from_store(getattr(source_module, n))]
    assert (refused == []) is allowed


def test_the_store_attribute_check_sees_a_call_around_the_door():
    tree = ast.parse("async def h(ctx):\n    await ctx.services.store.fetch(1, [2])\n")
    assert any(isinstance(n, ast.Attribute) and n.attr == "store" for n in ast.walk(tree))
