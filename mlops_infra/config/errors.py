"""One error that lists every config problem with its path, e.g. `gpuPools[1].maxSize: must be >= minSize`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


class ConfigError(ValueError):
    """Invalid platform config. `problems` holds one `path: message` line per problem, in config order."""

    def __init__(self, problems: Sequence[str], source: str = "config") -> None:
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        header = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))


def format_path(loc: Sequence[int | str]) -> str:
    """`("gpuPools", 1, "maxSize")` -> `gpuPools[1].maxSize`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def _join(base: str, rel: str) -> str:
    if not base:
        return rel
    if not rel:
        return base
    return f"{base}{rel}" if rel.startswith("[") else f"{base}.{rel}"


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling)"
    if kind == "missing":
        return "required"
    ctx = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in (err.get("ctx") or {}).items()}
    got = err.get("input")
    friendly = {
        "less_than_equal": lambda: f"must be <= {ctx.get('le')} (got {got})",
        "greater_than_equal": lambda: f"must be >= {ctx.get('ge')} (got {got})",
        "greater_than": lambda: f"must be > {ctx.get('gt')} (got {got})",
        "literal_error": lambda: f"must be one of {ctx.get('expected')} (got {got!r})",
        "string_pattern_mismatch": lambda: f"invalid value {got!r} (must match {ctx.get('pattern')})",
        "too_short": lambda: f"must have at least {ctx.get('min_length')} item(s)",
    }
    if kind in friendly:
        return friendly[kind]()
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def problems_from_validation_error(exc: ValidationError, prefix: Sequence[int | str] = ()) -> list[str]:
    """Flatten a pydantic error into `path: message` lines; cross-field problems expand to their own paths."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        # Literal/union errors repeat the tag in loc; drop pydantic's internal markers.
        loc = [p for p in (*prefix, *err["loc"]) if not (isinstance(p, str) and p.startswith("function-"))]
        base = format_path(loc)
        if err["type"] == "mlops_problems":
            for rel, msg in err["ctx"]["problems"]:
                lines.append(f"{_join(base, rel)}: {msg}")
        else:
            lines.append(f"{base or '(root)'}: {_message(err)}")
    return lines
