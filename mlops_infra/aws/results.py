"""Result rows shared by bootstrap, preflight and audit, rendered as an aligned text table or as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["PASS", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    """One checked fact. FAIL blocks (exit 1); WARN is shown but does not block."""

    subject: str
    """What was checked: a resource (`s3:my-bucket`) or a topic (`quota L-DB2E81BA`)."""
    control: str
    status: Status
    detail: str
    remedy: str = ""
    """What to do about a WARN/FAIL. Default: nothing."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def blocking(checks: Sequence[Check]) -> bool:
    return any(c.status == "FAIL" for c in checks)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell; the last column is not padded."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_checks(checks: Sequence[Check]) -> str:
    """A STATUS / SUBJECT / CONTROL / DETAIL table; a remedy goes on its own indented line below its row."""
    rows = [[c.status, c.subject, c.control, c.detail] for c in checks]
    out = table(["STATUS", "SUBJECT", "CONTROL", "DETAIL"], rows).splitlines()
    lines = [out[0]]
    for check, line in zip(checks, out[1:], strict=True):
        lines.append(line)
        if check.remedy and check.status != "PASS":
            lines.append(f"      -> {check.remedy}")
    return "\n".join(lines)


def summary_line(checks: Sequence[Check]) -> str:
    counts = {s: sum(1 for c in checks if c.status == s) for s in ("PASS", "WARN", "FAIL")}
    return f"{len(checks)} checks: {counts['FAIL']} FAIL, {counts['WARN']} WARN, {counts['PASS']} PASS"


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
