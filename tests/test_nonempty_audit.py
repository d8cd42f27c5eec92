"""Every "for each X" check first makes sure X is not empty (issue 29 item 8): a loop over nothing asserts nothing.

- A test's top-level `for` loop whose body asserts, over anything but a literal tuple or list, must iterate
  `each(...)` (tests/nonempty.py) or follow an `assert` or an `if` that names the same expression (`assert pods`;
  `if not albs: pytest.skip(...)`, which reports the test as skipped instead of passing it).
- The same for an asserted `all(... for x in X)`, which is True over nothing. A guard proves X non-empty (`assert X`,
  `assert len(X) > 0` or `>= 1`); an assert that merely names X (`assert X is not None`) is none.
- `pytest.mark.parametrize` over an empty list fails at collection (`empty_parameter_set_mark`), not skips.
Loops nested in another loop are per-item (a resource with no statements of a kind), and are left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.nonempty import each

TESTS = ROOT / "tests"


def _literal(node: ast.expr) -> bool:
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(
        not isinstance(e, ast.Starred) for e in node.elts)


def _asserts(body: list[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Assert) for stmt in body for n in ast.walk(stmt))


def _stops(body: list[ast.stmt]) -> bool:
    """The body skips, fails or raises (`if not xs: pytest.skip(...)`)."""
    return any(isinstance(n, ast.Raise) or (isinstance(n, ast.Call) and ast.unparse(n.func) in ("pytest.skip",
               "pytest.fail")) for stmt in body for n in ast.walk(stmt))


def _guarded(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "each"


def _loops(node: ast.AST) -> Iterator[ast.For]:
    """The `for` loops directly in a test (not in another loop, nested function or lambda)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.For):
            yield child
        elif not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.While)):
            yield from _loops(child)


def _nonempty_guards(test: ast.expr) -> set[str]:
    """The expressions an assert's test proves non-empty: `xs`, `len(xs) > 0`, `len(xs) >= 1` (or `== n`, n > 0),
    each operand of an `and`. Merely naming `xs` (`xs is not None`, `len(xs) >= 0`) proves nothing."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return set().union(*(_nonempty_guards(v) for v in test.values))
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Call)
            and isinstance(test.left.func, ast.Name) and test.left.func.id == "len" and len(test.left.args) == 1
            and isinstance(test.comparators[0], ast.Constant) and isinstance(test.comparators[0].value, int)):
        op, bound = test.ops[0], test.comparators[0].value
        if (isinstance(op, ast.Gt) and bound >= 0) or (isinstance(op, (ast.GtE, ast.Eq)) and bound >= 1):
            return {ast.unparse(test.left.args[0])}
        return set()
    if isinstance(test, (ast.Compare, ast.UnaryOp, ast.BoolOp, ast.Constant)):
        return set()
    return {ast.unparse(test)}


def _skip_guard(node: ast.If) -> set[str]:
    """`if not xs: pytest.skip(...)` (or fail, raise) guards `xs`."""
    t = node.test
    if _stops(node.body) and isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
        return {ast.unparse(t.operand)}
    return set()


def _all_checks(assert_: ast.Assert) -> Iterator[ast.expr]:
    """The iterables of `all(... for x in xs)` in an assert (not nested in another generator)."""
    for n in ast.walk(assert_.test):
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "all" and len(n.args) == 1
                and isinstance(n.args[0], ast.GeneratorExp)):
            yield n.args[0].generators[0].iter


def unguarded_loops(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test"):
            continue
        guards = [(n.lineno, _nonempty_guards(n.test) if isinstance(n, ast.Assert) else _skip_guard(n))
                  for n in ast.walk(fn) if isinstance(n, (ast.Assert, ast.If))]
        for loop in _loops(fn):
            if not _asserts(loop.body) or _literal(loop.iter) or _guarded(loop.iter):
                continue
            text = ast.unparse(loop.iter)
            if not any(line < loop.lineno and text in names for line, names in guards):
                found.append(f"{where}:{loop.lineno}: {fn.name}: for ... in {text}")
        for assert_ in (n for n in ast.walk(fn) if isinstance(n, ast.Assert)):
            for it in _all_checks(assert_):
                if _literal(it) or _guarded(it):
                    continue
                text = ast.unparse(it)
                own = _nonempty_guards(assert_.test)  # `assert xs and all(... for x in xs)`
                if text not in own and not any(line < assert_.lineno and text in names for line, names in guards):
                    found.append(f"{where}:{assert_.lineno}: {fn.name}: all(... in {text})")
    return found


def test_every_for_each_loop_first_makes_sure_there_is_something_to_check() -> None:
    files = each(p for p in TESTS.rglob("test_*.py") if "integration" not in p.relative_to(TESTS).parts)
    found = [hit for path in files for hit in unguarded_loops(path.read_text(encoding="utf-8"),
                                                                 path.relative_to(ROOT).as_posix())]
    assert found == []


def test_the_audit_finds_an_unguarded_loop_and_accepts_the_guards() -> None:
    bad = "def test_x(inv):\n    for r in inv.rendered():\n        assert r.ok\n"
    assert unguarded_loops(bad, "t.py") == ["t.py:2: test_x: for ... in inv.rendered()"]
    guarded = "def test_x(inv):\n    for r in each(inv.rendered()):\n        assert r.ok\n"
    asserted = "def test_x(pods):\n    assert pods\n    for p in pods:\n        assert p.ok\n"
    literal = "def test_x(a, b):\n    for p in (a, b):\n        assert p\n"
    skipped = "def test_x(xs):\n    if not xs:\n        pytest.skip('none')\n    for x in xs:\n        assert x\n"
    assert unguarded_loops(guarded + asserted + literal + skipped, "t.py") == []
    silent = "def test_x(xs):\n    if xs:\n        print(xs)\n    for x in xs:\n        assert x\n"
    assert unguarded_loops(silent, "t.py") == ["t.py:4: test_x: for ... in xs"]
    mentioned = "def test_x(xs):\n    assert xs is not None\n    for x in xs:\n        assert x\n"
    assert unguarded_loops(mentioned, "t.py") == ["t.py:3: test_x: for ... in xs"]
    length = "def test_x(xs):\n    assert len(xs) >= 1\n    for x in xs:\n        assert x\n"
    assert unguarded_loops(length, "t.py") == []


def test_the_audit_finds_an_all_over_nothing_and_accepts_the_guards() -> None:
    bare = "def test_x(xs):\n    assert all(x.ok for x in xs)\n"
    assert unguarded_loops(bare, "t.py") == ["t.py:2: test_x: all(... in xs)"]
    mentioned = "def test_x(xs):\n    assert xs is not None\n    assert all(x.ok for x in xs)\n"
    assert unguarded_loops(mentioned, "t.py") == ["t.py:3: test_x: all(... in xs)"]
    ok = ("def test_a(xs):\n    assert all(x.ok for x in each(xs))\n"
          "def test_b(xs):\n    assert xs and all(x.ok for x in xs)\n"
          "def test_c(xs):\n    assert len(xs) > 0\n    assert all(x.ok for x in xs)\n")
    assert unguarded_loops(ok, "t.py") == []


def test_an_empty_parametrization_fails_at_collection(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getini("empty_parameter_set_mark") == "fail_at_collect"


def test_each_refuses_nothing() -> None:
    assert each(iter([1])) == [1]
    with pytest.raises(AssertionError, match="found nothing to check"):
        each([])
