"""One error that lists every config problem with its path, e.g. `gpuPools[1].maxSize: must be >= minSize`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .base import ENGINE_TAG


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


def _one_of(values: Sequence[str]) -> str:
    """Pydantic's wording for a Literal: `'a', 'b' or 'c'`."""
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _engine_error(err: Any) -> str | None:
    """An engine union whose `engine` names no variant: the message pydantic gives a bad Literal."""
    ctx = err.get("ctx") or {}
    tag = str(ctx.get("tag", ""))
    if err["type"] != "union_tag_invalid" or not tag.startswith(ENGINE_TAG):
        return None
    expected = [t.strip().strip("'").removeprefix(ENGINE_TAG) for t in str(ctx["expected_tags"]).split(",")]
    return f"must be one of {_one_of(expected)} (got {tag.removeprefix(ENGINE_TAG)!r})"


def _message(err: Any, engine: str | None = None) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling)" if engine is None else \
            f"unknown key for engine {engine} (check the spelling, or the engine)"
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
        # Literal/union errors repeat the tag in loc; drop pydantic's internal markers and engine tags.
        raw = [*prefix, *err["loc"]]
        tags = [p.removeprefix(ENGINE_TAG) for p in raw if isinstance(p, str) and p.startswith(ENGINE_TAG)]
        loc = [p for p in raw if not (isinstance(p, str) and p.startswith(("function-", ENGINE_TAG)))]
        base = format_path(loc)
        engine_error = _engine_error(err)
        if err["type"] == "mlops_problems":
            for rel, msg in err["ctx"]["problems"]:
                lines.append(f"{_join(base, rel)}: {msg}")
        elif engine_error is not None:
            lines.append(f"{_join(base, 'engine')}: {engine_error}")
        else:
            lines.append(f"{base or '(root)'}: {_message(err, tags[-1] if tags else None)}")
    return lines
