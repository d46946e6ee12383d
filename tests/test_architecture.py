"""The package's layers hold (ARCHITECTURE.md): every import, module-level or inside a function,
points down or sideways, never up, and no modules import each other in a circle. An import inside
a function is only there to keep a heavy library (TensorFlow/Keras, pandas, pyarrow, matplotlib,
an optional extra) out of start-up, and says so (`# deferred: why`) on its line or on a comment
line heading its block of imports. No module, and no test, reaches for another module's private
(`_underscored`) names: what another module needs is public there, and documented."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "forecast"

# third-party packages whose import costs start-up time: what a deferred import may put off
HEAVY = frozenset(
    {"numpy", "pandas", "pyarrow", "scipy", "sklearn", "keras", "tensorflow", "tensorboard", "torch", "jax", "h5py"}
    | {"matplotlib", "optuna", "sqlalchemy", "statsforecast", "mlflow", "onnx", "onnxruntime", "tf2onnx"}
)
# what importing one of them always loads besides, on any Keras backend (pandas 2+ imports pyarrow, which
# forecast depends on):
# putting off pyarrow in a module that has pandas already puts off nothing
IMPLIES = {
    "pandas": {"numpy", "pyarrow"},
    "pyarrow": {"numpy"},
    "sklearn": {"numpy", "scipy"},
    "scipy": {"numpy"},
    "keras": {"numpy"},
    "tensorflow": {"numpy"},
    "matplotlib": {"numpy"},
    "optuna": {"numpy"},
}
REASON = re.compile(r"#.*\bdeferred:\s*\S")  # the comment that says why an import waits


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layers() -> dict[str, tuple[int, str]]:
    """ARCHITECTURE.md's table: `| N | layer | `mod`, `mod` |` -> {module: (N, layer)}; a package's
    entry (`config`, `callbacks`) covers its submodules; `forecast` is the package's own __init__."""
    found = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|([^|]+)\|", line)
        if match:
            for name in re.findall(r"`([\w.]+)`", match.group(3)):
                found["forecast" if name == "forecast" else f"forecast.{name}"] = (int(match.group(1)), match.group(2))
    return found


LAYERS = layers()


def layer_of(module: str) -> tuple[int, str] | None:
    """The layer of `module`, or of the package (below `forecast` itself) it belongs to."""
    while module not in LAYERS and module.count(".") > 1:
        module = module.rsplit(".", 1)[0]
    return LAYERS.get(module)


def source_of(module: str | None, node: ast.ImportFrom) -> str:
    """The module a `from ... import` statement imports from (`module`: the importer, for relative imports)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def resolve(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement loads (forecast's, by their dotted names; others by package)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    source = source_of(module, node)
    if source == "__future__":
        return []
    if not source.startswith("forecast"):
        return [source]
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]


def internal(target: str) -> str | None:
    if target != "forecast" and not target.startswith("forecast."):
        return None
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def typing_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:`: imports for annotations, never run."""
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@cache
def imports(module: str) -> tuple[tuple[str, int, str], ...]:
    """(imported module, line, when) for every import of `module`; when: "load" (module level),
    "call" (inside a function) or "typing" (under `if TYPE_CHECKING:`, never run)."""
    found = []

    def visit(nodes: list[ast.AST], when: str) -> None:
        for child in nodes:
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend((target, child.lineno, when) for target in resolve(module, child))
            elif typing_only(child):
                visit(child.body, "typing")
                visit(child.orelse, when)  # `else:` runs
            else:
                inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(list(ast.iter_child_nodes(child)), "call" if inner and when == "load" else when)

    visit(ast.parse(MODULES[module].read_text()).body, "load")
    return tuple(found)


def package(target: str) -> set[str]:
    """The heavy packages a third-party import loads."""
    name = target.split(".")[0]
    return {name, *IMPLIES.get(name, ())} & HEAVY


@cache
def loads(module: str) -> frozenset[str]:
    """The heavy packages importing `module` loads: its module-level imports followed through
    forecast's own modules (and the packages above each, which Python imports first)."""
    heavy, seen, todo = set(), {module}, [module]
    while todo:
        current = todo.pop()
        parents = [".".join(current.split(".")[:k]) for k in range(1, current.count(".") + 1)]
        for target in [*(t for t, _, when in imports(current) if when == "load"), *parents]:
            own = internal(target)
            if own is None:
                heavy |= package(target)
            elif own not in seen:
                seen.add(own)
                todo.append(own)
    return frozenset(heavy)


def arrows(module: str) -> Iterator[tuple[str, int]]:
    """(forecast module, line) for each import of another of forecast's modules. A package's own
    modules are not arrows to it (Python loads the package first), but a name taken from a package's
    __init__ by one of its modules is: `forecast`'s __init__ is the interface, at the top."""
    for target, line, _ in imports(module):
        other = internal(target)
        if other is not None and other != module:
            yield other, line


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if layer_of(m) is None)
    assert not missing, f"add these modules to ARCHITECTURE.md's table of layers: {missing}"
    unknown = sorted(m for m in LAYERS if m not in MODULES)
    assert not unknown, f"ARCHITECTURE.md's table names modules that do not exist: {unknown}"


def test_imports_point_down_or_sideways():
    upward = []
    for module in MODULES:
        own = layer_of(module)
        for other, line in arrows(module):
            theirs = layer_of(other)
            if own and theirs and theirs[0] > own[0]:
                upward.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {own[1]} imports {other} ({theirs[1]})")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def test_no_module_imports_itself_through_others():
    graph = {m: {other for other, _ in arrows(m)} for m in MODULES}
    # Tarjan's strongly connected components: any with two or more modules is a circle
    index, low, stack, on, circles = {}, {}, [], set(), []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            connect(v)
    assert not circles, f"modules that import each other in a circle: {circles}"


def reason_for(lines: list[str], line: int) -> bool:
    """Whether the import on `line` (1-based) says why it waits: on its own line, or on a comment
    line heading the block of imports it belongs to (blank lines between sections included)."""
    if REASON.search(lines[line - 1]):
        return True
    above = line - 2
    while above >= 0 and re.match(r"\s*((import|from)\s|$)", lines[above]):
        above -= 1
    return above >= 0 and lines[above].strip().startswith("#") and bool(REASON.search(lines[above]))


def test_imports_inside_functions_put_off_a_heavy_library_and_say_why():
    wrong = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        own = loads(module)
        for target, line, when in imports(module):
            if when != "call":
                continue
            other = internal(target)
            if other == module:
                continue
            spared = (loads(other) if other else package(target)) - own
            where = f"{path.relative_to(ROOT)}:{line}: {target}"
            if not spared:
                wrong.append(f"{where}: loads nothing heavy that {module} has not loaded: import it at the top")
            elif not reason_for(lines, line):
                wrong.append(f"{where}: say why it waits (`# deferred: why`, on its line or heading its block)")
    assert not wrong, "\n".join(wrong)


def module_aliases(tree: ast.Module, module: str | None) -> dict[str, str]:
    """{local name: forecast module} for every name an import binds to one of forecast's modules."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:  # `import forecast.x` binds `forecast`; `import forecast.x as y`, `y`
                    names[alias.asname or "forecast"] = alias.name if alias.asname else "forecast"
        elif isinstance(node, ast.ImportFrom):
            source = source_of(module, node)
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    names[alias.asname or alias.name] = f"{source}.{alias.name}"
    return names


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return base and f"{base}.{node.attr}"
    return None


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def foreign_private_names(path: Path, module: str | None) -> Iterator[str]:
    """`from forecast.X import _y`, `X._y`, `setattr(X, "_y", ...)` (monkeypatch's too) and
    `"forecast.X._y"`, where X is another of forecast's modules than `module` (the file's own; None
    for a test). A class's own `_attr`, on an instance or the class, is not a module's name."""
    tree = ast.parse(path.read_text())
    aliases = module_aliases(tree, module)

    def owner(expression: ast.AST) -> str | None:
        head, _, rest = (dotted(expression) or "").partition(".")
        if head not in aliases:
            return None
        full = aliases[head] + (f".{rest}" if rest else "")
        return full if full in MODULES and full != module else None

    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom):
            source = internal(source_of(module, node))
            if source is not None and source != module:
                for alias in node.names:
                    if private(alias.name) and f"{source}.{alias.name}" not in MODULES:
                        yield f"{where}: from {source} import {alias.name}"
        elif isinstance(node, ast.Attribute) and private(node.attr) and (other := owner(node.value)):
            yield f"{where}: {other}.{node.attr}"
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            name, (first, second) = dotted(node.func) or "", node.args[:2]
            text = second.value if isinstance(second, ast.Constant) else None
            accessor = name.split(".")[-1] in {"setattr", "getattr", "delattr", "hasattr"}
            if accessor and isinstance(text, str) and private(text) and (other := owner(first)):
                yield f"{where}: {name}({other}, {text!r})"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"forecast(\.\w+)+", node.value)
        ):
            where_from, _, attr = node.value.rpartition(".")
            if private(attr) and where_from in MODULES and where_from != module:
                yield f"{where}: {node.value!r}"


def test_no_private_name_is_used_from_another_module():
    found = [hit for module, path in MODULES.items() for hit in foreign_private_names(path, module)]
    found += [hit for path in sorted((ROOT / "tests").rglob("*.py")) for hit in foreign_private_names(path, None)]
    assert not found, "private names used from another module (make them public there, documented):\n" + "\n".join(
        found
    )


@pytest.mark.parametrize("command", ["import forecast", "import forecast.cli"])
def test_start_up_loads_no_framework(command):
    """`import forecast` and the CLI's start (--help, validate) stay free of TensorFlow and Keras."""
    heavy = loads("forecast" if command == "import forecast" else "forecast.cli")
    assert not heavy & {"keras", "tensorflow", "torch", "jax", "matplotlib", "optuna"}, heavy
