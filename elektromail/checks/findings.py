"""What every check returns: findings with an id, a severity, a message and where they are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found. `where` names the place: any of `header` (a field name),
    `line` (1-based line of the message), `part` (an IMAP part number such as "1.2"),
    `signature` (0-based DKIM-Signature index), `url`; `details` carries check-specific data."""

    id: str
    severity: str
    message: str
    where: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "where": dict(self.where),
        }
        if self.details is not None:
            out["details"] = self.details
        return out


def error(id: str, message: str, **where: Any) -> Finding:
    return Finding(id, ERROR, message, where)


def warning(id: str, message: str, **where: Any) -> Finding:
    return Finding(id, WARNING, message, where)


def info(id: str, message: str, **where: Any) -> Finding:
    return Finding(id, INFO, message, where)
