"""Where a person fixes a finding, for `check --format sarif`: a line of the stack file or of the program.

- Config-driven: the finding quotes a value of the stack file (`'ml-platform-oncall@example.com'`, an admin role ARN
  in parentheses), or the resource is named after a `name:` in it (a GPU pool, a team): that value's line in
  `Pulumi.<stack>.yaml`, found with a YAML loader that keeps line numbers. A value matches only a whole quoted token
  of the message (quotes, backticks or parentheses), never part of one, and only a specific value does (one holding
  a digit or one of `-._@/:`): a bare word such as `mlflow` (an engine choice) also names containers, charts and
  components. The longest (most specific) value wins.
- Otherwise: the file and line where the program or a component constructed the resource (the plan engine records
  the nearest caller that is the user's, `ResourceRecord.source`, plan/frames.py: with mlops-infra installed, the
  program's line that called into it); an object rendered from a chart points at its release.
- Neither: line 1 of the stack file.

URIs are relative to the repository root (the nearest directory at or above the program holding `.git`, else the
program directory), which the SARIF run names as the `SRCROOT` base; a file outside it gets an absolute `file:` URI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml

from ..plan import Inventory

MIN_VALUE = 4
"""Shorter config values (`dev`, `2`, `true`) name nothing specific."""
GENERIC_KEYS = frozenset({"environment", "region", "aws:region"})


@dataclass(frozen=True)
class Leaf:
    key: str
    value: str
    line: int
    top: bool
    """A key directly under `mlops:platform` (the platform's own name, which every resource name starts with)."""


def config_leaves(stack_file: Path) -> list[Leaf]:
    """Every scalar of the stack file with its 1-based line and the key it sits under."""
    try:
        root = yaml.compose(stack_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    return list(_walk(root, "", 0)) if root is not None else []


def _walk(node: yaml.Node, key: str, depth: int) -> Iterator[Leaf]:
    if isinstance(node, yaml.ScalarNode):
        if isinstance(node.value, str) and len(node.value) >= MIN_VALUE and node.tag.endswith(":str"):
            yield Leaf(key, node.value, node.start_mark.line + 1, depth <= 3)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield from _walk(v, str(k.value), depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, key, depth + 1)


_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"|`([^`]+)`|\(([^()]+)\)")
_SPECIFIC = re.compile(r"[\d\-._@/:]")


def quoted_tokens(text: str) -> set[str]:
    """The whole tokens `text` quotes: between single or double quotes, backticks, or parentheses."""
    return {next(group for group in match.groups() if group is not None) for match in _QUOTED.finditer(text)}


def specific(value: str) -> bool:
    """A value that names one thing (an ARN, an email, a CIDR, a hyphenated name), not a bare word."""
    return _SPECIFIC.search(value) is not None


def repository_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding `.git` (a directory, or a worktree's file); else `start`."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def relative_uri(path: str | Path, root: Path) -> str:
    """`path` relative to `root` (a URI reference under the run's `SRCROOT`), else its absolute `file:` URI.
    The relative form is percent-encoded as an RFC 3986 path (a space, `#`, `?` or `%` is data, not syntax; `:` too,
    so a first segment is never read as a scheme), as `Path.as_uri()` encodes the absolute one."""
    file = Path(path).resolve()
    if file.is_relative_to(root.resolve()):
        return quote(file.relative_to(root.resolve()).as_posix(), safe="/")
    return file.as_uri()


def locator(inventory: Inventory, stack_file: Path, stack_uri: str,
            root: Path) -> Callable[[str, str, str], tuple[str, int, str]]:
    """`(urn, resource name, message) -> (uri, line, why)` for one checked stack.

    1. The stack file's line holding a value the message quotes: the config sets what is flagged.
    2. Else the line that registered the resource (the program's, or with the library installed the program's line
       that called into it): the flagged value is the library's default or the program's. When a `name:` in the
       stack file names the resource (a team's or model's block), `why` points there as the place to override.
    3. Else that `name:` line; else line 1 of the stack file.
    """
    every = [leaf for leaf in config_leaves(stack_file) if leaf.key not in GENERIC_KEYS and not leaf.top]
    every.sort(key=lambda leaf: -len(leaf.value))
    leaves = [leaf for leaf in every if specific(leaf.value)]
    named = [leaf for leaf in every if leaf.key == "name"]
    by_urn = inventory.by_urn()

    def source(urn: str) -> tuple[str, int] | None:
        seen = 0
        record = by_urn.get(urn)
        while record is not None and seen < 64:
            if record.source is not None:
                return record.source
            record = by_urn.get(record.parent) if record.parent else None
            seen += 1
        return None

    def locate(urn: str, name: str, message: str) -> tuple[str, int, str]:
        tokens = quoted_tokens(message)
        for leaf in leaves:
            if leaf.value in tokens:
                return stack_uri, leaf.line, f"set in the stack file ({leaf.key}: {leaf.value})"
        block = next((leaf for leaf in named if re.search(rf"-{re.escape(leaf.value)}(-|$)", name)), None)
        found = source(urn)
        if found is not None:
            where = f"; override it in the stack file's block at {stack_uri}:{block.line}" if block else ""
            return (relative_uri(found[0], root), found[1],
                    f"registered here; the flagged value is not in the stack file (a library or program default){where}")
        if block is not None:
            return stack_uri, block.line, "the stack file's block that configures this resource"
        return stack_uri, 1, "not located: the stack file"

    return locate
