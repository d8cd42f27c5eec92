"""Where a person fixes a finding, for `check --format sarif`: a line of the stack file or of the program.

- Config-driven: the finding quotes a value of the stack file (`ml-platform-oncall@example.com`, an admin role ARN),
  or the resource is named after a `name:` in it (a GPU pool, a team): that value's line in `Pulumi.<stack>.yaml`,
  found with a YAML loader that keeps line numbers. The longest (most specific) value wins.
- Otherwise: the file and line where the program or a component constructed the resource (the plan engine records
  the first caller outside the SDKs, `ResourceRecord.source`); an object rendered from a chart points at its release.
- Neither: line 1 of the stack file.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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


def _mentions(text: str, value: str) -> bool:
    return re.search(rf"(?<![\w.@/:-]){re.escape(value)}(?![\w.@/-])", text) is not None


def _relative(path: str, root: Path) -> str:
    """`path` under the project root, else under the import root it came from (site-packages: `mlops_infra/...`)."""
    file = Path(path)
    for base in (root.resolve(), *sorted((Path(p).resolve() for p in sys.path if p), key=lambda p: -len(p.parts))):
        if file.is_relative_to(base):
            return file.relative_to(base).as_posix()
    return file.as_posix()


def locator(inventory: Inventory, stack_file: Path, stack_uri: str, root: Path) -> Callable[[str, str, str], tuple[str, int]]:
    """`(urn, resource name, message) -> (uri, line)` for one checked stack."""
    leaves = [leaf for leaf in config_leaves(stack_file) if leaf.key not in GENERIC_KEYS and not leaf.top]
    leaves.sort(key=lambda leaf: -len(leaf.value))
    named = [leaf for leaf in leaves if leaf.key == "name"]
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

    def locate(urn: str, name: str, message: str) -> tuple[str, int]:
        for leaf in leaves:
            if _mentions(message, leaf.value):
                return stack_uri, leaf.line
        for leaf in named:
            if re.search(rf"-{re.escape(leaf.value)}(-|$)", name):
                return stack_uri, leaf.line
        found = source(urn)
        if found is not None:
            return _relative(found[0], root), found[1]
        return stack_uri, 1

    return locate
