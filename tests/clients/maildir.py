"""A local Maildir as sync clients leave it: messages by their normalized bytes, flags."""

from __future__ import annotations

from pathlib import Path

from tests.clients.conftest import normalized


def messages(folder: Path) -> dict[bytes, Path]:
    files = [*folder.glob("cur/*"), *folder.glob("new/*")]
    return {normalized(path.read_bytes()): path for path in files}


def flags(path: Path) -> str:
    """The Maildir flags of a message file: the letters after ":2,"."""
    return path.name.rpartition(":2,")[2] if ":2," in path.name else ""


def set_flags(path: Path, letters: str) -> Path:
    """What a mail client does to flag a message: move it to cur/ with the flags in its name."""
    base = path.name.split(":2,")[0]
    target = path.parent.parent / "cur" / f"{base}:2,{letters}"
    path.rename(target)
    return target


def make_folder(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def deliver(folder: Path, name: str, raw: bytes) -> Path:
    """A new message as a mail client writes one: to tmp/, then moved into new/."""
    tmp = folder / "tmp" / name
    tmp.write_bytes(raw)
    target = folder / "new" / name
    tmp.rename(target)
    return target


def either(root: Path, *names: str) -> Path:
    """The one of `names` (a folder's UTF-8 and modified UTF-7 spellings) that the client
    made: some clients name local folders as the server's IMAP4rev1 names, others decode."""
    found = [root / name for name in names if (root / name / "cur").is_dir()]
    assert len(found) == 1, f"expected one of {names} under {root}: {sorted(root.rglob('cur'))}"
    return found[0]
