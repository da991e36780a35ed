"""The house's rules (docs/architecture.md) that import-linter cannot see: cycles through imports placed inside
functions, lazy imports without a reason, module size, and the embedded stack staying out of the Lambda package.

import-linter (`lint-imports`, run by `make test`) checks the layers and the forbidden imports on the import graph;
it does not tell an import inside a function from one at the top, so these checks read the source with `ast`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "chalicelib"
#: The production module size the house allows (issue "One house": about 400 lines, none over 450).
MAX_LINES = 450


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (resolved to a gateway module when it is one)
    line: int
    lazy: bool  # inside a function
    commented: bool  # a comment on the line, or on the line above


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(GATEWAY.rglob("*.py")):
        dotted = ".".join(path.relative_to(REPO).with_suffix("").parts)
        mods[dotted.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str:
    """The gateway module `name` refers to (a package, a module or a name inside one), or `name` itself."""
    probe = name
    while probe:
        if probe in MODULES:
            return probe
        probe = probe.rpartition(".")[0]
    return name


def _imports(module: str, path: Path) -> Iterator[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def commented(node: ast.stmt) -> bool:
        here = "#" in lines[node.lineno - 1] or "#" in lines[node.end_lineno - 1]
        above = node.lineno >= 2 and lines[node.lineno - 2].strip().startswith("#")
        return here or above

    def visit(node: ast.AST, lazy: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, _resolve(alias.name), child.lineno, lazy, commented(child))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(parts + ([child.module] if child.module else []))
                # `from pkg import name` runs pkg/__init__ first: the package is imported too, whatever `name` is.
                yield Import(module, _resolve(base), child.lineno, lazy, commented(child))
                for alias in child.names:
                    yield Import(module, _resolve(f"{base}.{alias.name}"), child.lineno, lazy, commented(child))
            else:
                yield from visit(child, inner)

    yield from visit(tree, False)


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)
           if imp.target != "__future__"]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_no_import_cycle_between_gateway_modules_counting_imports_inside_functions():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    assert _cycles(graph) == []


def test_lazy_imports_are_third_party_and_say_why():
    """An import inside a function is there only to keep a heavy third-party package off a Lambda cold start,
    and says so; the gateway's own modules are imported at the top, where the layers can be seen."""
    own = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS if i.lazy and i.target in MODULES]
    silent = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS if i.lazy and not i.commented]
    assert own == []
    assert silent == []


def test_no_production_module_over_the_size_limit():
    sizes = {m: sum(1 for _ in p.open(encoding="utf-8")) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_the_gateway_never_names_the_embedded_stack_or_its_demo_credentials():
    """What `chalice package` ships is app.py and chalicelib/: neither may reach devstack/ or carry its password."""
    from devstack import demo_data

    for path in [REPO / "app.py", *MODULES.values()]:
        text = path.read_text(encoding="utf-8")
        assert demo_data.DEMO_PASSWORD not in text, path
    assert not [i for i in IMPORTS if i.target.split(".")[0] == "devstack"]


def report() -> str:
    """What breaks the rules, one line each (`python -m tests.architecture.test_house [area]`)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    out = [f"cycle: {' <-> '.join(c)}" for c in _cycles(graph)]
    out += [f"lazy gateway import: {i.module}:{i.line} imports {i.target}"
            for i in IMPORTS if i.lazy and i.target in MODULES]
    out += [f"lazy import without a reason: {i.module}:{i.line} imports {i.target}"
            for i in IMPORTS if i.lazy and not i.commented and i.target not in MODULES]
    out += [f"too long: {m} ({n} lines)" for m, p in MODULES.items()
            if (n := sum(1 for _ in p.open(encoding="utf-8"))) > MAX_LINES]
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    area = sys.argv[1] if len(sys.argv) > 1 else ""
    print("\n".join(line for line in report().splitlines() if area in line))


def test_app_loads_each_handlers_use_case_inside_the_handler_and_nothing_else_lazily():
    """app.py is the table of contents and the one composition root: each handler imports its own use-case module
    when first called, so a Lambda function pays at cold start only for the use case it runs (its docstring says
    so; importing every use case at the top would cost every function pydantic and more, ~400 ms). Apart from those,
    only commented third-party imports sit inside its functions; no cycle can pass through it (nothing imports app)."""
    app_py = REPO / "app.py"
    lazy = [i for i in _imports("app", app_py) if i.lazy]
    assert lazy, "app.py imports its use cases inside the handlers"
    areas = ("chalicelib.outbound", "chalicelib.inbound", "chalicelib.admin", "chalicelib.registers",
             "chalicelib.webhooks", "chalicelib.api")
    gateway = [i for i in lazy if i.target.startswith("chalicelib")]
    assert [i for i in gateway if not i.target.startswith(areas)] == []
    assert [i for i in lazy if i not in gateway and not i.commented] == []
    assert "each Lambda loads only its own use case" in (ast.get_docstring(ast.parse(app_py.read_text())) or "")
    assert not [i for i in IMPORTS if i.target == "app"]
