"""The import graph of `mlops_infra/` has no cycle, lazy imports included (issue 29, acceptance).

The graph is read from the source with `ast`, one node per module (`pkg/__init__.py` is the node `pkg`), and an
edge for every import statement wherever it stands:
- at module level, inside functions and methods (lazy imports run when the function is called: they are real
  imports that only hide a cycle until then), and inside `if TYPE_CHECKING:` blocks (not executed, but a dependency
  all the same: the type checker follows it, and a type-only import of a higher layer is the same layering breach
  as a runtime one, a `from __future__ import annotations` away from running);
- `importlib.import_module(...)` calls: a constant name is one edge; a computed one (an f-string) is an edge to
  every module under its constant prefix, since any of them may be the one imported.
Importing `a.b.c` runs `a/__init__` and `a/b/__init__` first, so it is an edge to each of them too;
`from a.b import c` is an edge to `a.b.c` when that is a module, else to `a.b` (it names an attribute).
"""

from __future__ import annotations

import ast
from collections.abc import Container, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mlops_infra"
ROOT = PACKAGE.name


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _relative(package: str, level: int, module: str | None) -> str:
    base = package.split(".")[: len(package.split(".")) - level + 1] if level else []
    return ".".join([*base, *([module] if module else [])])


def _dynamic_target(call: ast.Call, package: str) -> tuple[str, bool] | None:
    """(module, exact) of an `importlib.import_module(name[, package])` call; exact False: `module` is only the
    constant prefix of a computed name. None when the call is not one."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "import_module"
            and isinstance(func.value, ast.Name) and func.value.id == "importlib") or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        name, exact = arg.value, True
    elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        name, exact = str(arg.values[0].value), False
    else:
        raise AssertionError(f"importlib.import_module with a name that has no constant prefix in {package}: "
                             f"{ast.unparse(call)} (the import graph cannot see where it points)")
    if name.startswith("."):  # relative to the `package` argument; every use here passes `__name__`/`__package__`
        level = len(name) - len(name.lstrip("."))
        name = _relative(package, level, name.lstrip(".") or None)
    return name, exact


def imports_of(name: str, path: Path, modules: Container[str]) -> Iterator[tuple[str, bool]]:
    """(target, exact) for every import in the module `name`: the module the import reads (`from a import b`
    reads the module `a.b` when there is one, else the attribute `b` of `a`); exact False for a computed
    `import_module` prefix."""
    package = _package_of(name, path)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((a.name, True) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _relative(package, node.level, node.module)
            submodules = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in modules]
            yield from ((m, True) for m in submodules)
            if len(submodules) < len(node.names):
                yield module, True
        elif isinstance(node, ast.Call):
            target = _dynamic_target(node, package)
            if target is not None:
                yield target


def _with_parents(module: str, importer: str) -> set[str]:
    """`module` and the packages importing it runs first, but for the importer's own packages: those started
    before the importer did (a module never waits for its own package)."""
    parts = module.split(".")
    mine = importer.split(".")
    parents = {".".join(parts[:i]) for i in range(1, len(parts)) if parts[:i] != mine[:i]}
    return {module, *parents}


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of this package its imports run (their packages included)."""
    modules = all_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, exact in imports_of(name, path, modules):
            if target.split(".")[0] != ROOT:
                continue
            read = [target] if exact else [m for m in modules if m.startswith(target)]
            graph[name] |= {m for r in read for m in _with_parents(r, name) if m in modules} - {name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted (iterative: no recursion
    limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def a_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """One cycle through the first of `members` (a strongly connected component): a -> b -> ... -> a."""
    inside = set(members)
    start = members[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest cycle back to `start`
        following = []
        for node in frontier:
            for child in sorted(graph[node] & inside):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"{members} is not strongly connected")


def test_the_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert len(graph) > 100
    assert sum(len(targets) for targets in graph.values()) > 300
    # spot checks of the rules, one per kind of edge
    assert "mlops_infra.config" in graph["mlops_infra.platform.loader"]  # the package `config.loader` runs first
    assert "mlops_infra.platform" not in graph["mlops_infra.platform.loader"]  # its own package started first
    assert "mlops_infra.plan" in graph["mlops_infra.docs_figures"]  # imported inside a function
    assert "mlops_infra.platform.config" in graph["mlops_infra.platform.output_key"]  # under TYPE_CHECKING only
    cli = {m for m in graph if m.startswith("mlops_infra.cli.")} - {"mlops_infra.cli.main"}
    assert cli and cli <= graph["mlops_infra.cli.main"]  # importlib.import_module(f"mlops_infra.cli.{module}")


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    components = strongly_connected(graph)
    assert components == [["a", "b", "c"]]
    assert a_cycle(graph, components[0]) == ["a", "b", "c", "a"]


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    cycles = [a_cycle(graph, members) for members in strongly_connected(graph)]
    assert cycles == [], "import cycles (each a shortest one through the first module of its strongly " \
        "connected component):\n" + "\n".join(" -> ".join(c) for c in cycles)
