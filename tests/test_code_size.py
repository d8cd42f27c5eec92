"""Size limits the redesign set (issue 17): no source file over 400 lines, no function over 60 lines unless a
`# long: <why>` comment in the comment block right above its `def` (or its decorators) says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("mlops_infra/**/*.py"), *ROOT.glob("policies/mlops_policies/**/*.py")])
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60


def _long_functions(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        above = first - 2  # the contiguous comment block right above the def (or its decorators)
        block = []
        while above >= 0 and lines[above].strip().startswith("#"):
            block.append(lines[above].strip())
            above -= 1
        justified = any(c.startswith("# long:") for c in block)
        if length > MAX_FUNCTION_LINES and not justified:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_sources_were_found() -> None:
    assert len(SOURCES) > 100


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_is_at_most_400_lines(path: Path) -> None:
    count = len(path.read_text().splitlines())
    assert count <= MAX_FILE_LINES, f"{path.relative_to(ROOT)} has {count} lines: split it by concern"


def test_functions_are_at_most_60_lines_or_say_why() -> None:
    offenders = [f for path in SOURCES for f in _long_functions(path)]
    assert not offenders, "functions over 60 lines without a `# long: <why>` comment:\n" + "\n".join(offenders)
