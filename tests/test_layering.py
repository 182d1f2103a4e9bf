"""The package's import graph: no circle between modules, and no module
importing from a layer above its own (imports inside functions included)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keras_cgen"

# Bottom up. A module may import from its own layer and the layers below it.
LAYERS = [
    {"ops", "data", "text", "layers", "images"},
    {"decoding"},   # the engine and the Decoder base
    {"models"},     # shared builders: the transformer and its cached decoder
    {"checkpoints"},  # a loader builds the model it fills
    {"training"},   # fit, strategies, time budget
    {"zoo"},        # store, config, the Generator contract, the family table (names, not imports)
    {"evaluation"},  # metrics and card parts every family's evaluation shares
    {"families"},
    {"export", "cli"},
]
LAYER_OF = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path):
    """The keras_cgen modules `path` imports (`from keras_cgen import zoo` is keras_cgen.zoo)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "keras_cgen":
            if node.module == "keras_cgen":
                found.update(f"keras_cgen.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "keras_cgen")
    return found


def graph():
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in imports(path) if target in modules} for name, path in modules.items()}


def layer(module):
    parts = module.split(".")
    return LAYER_OF.get(parts[1]) if len(parts) > 1 else None


def test_every_package_has_a_layer():
    packages = {module.split(".")[1] for module in graph() if "." in module}
    assert packages <= set(LAYER_OF), f"packages with no layer: {packages - set(LAYER_OF)}"


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{source} ({layer(source)}) -> {target} ({layer(target)})"
              for source, targets in graph().items() for target in targets
              if layer(source) is not None and layer(target) is not None and layer(target) > layer(source)]
    assert not upward, "imports from a layer above:\n" + "\n".join(sorted(upward))


def strongly_connected(edges):
    """Tarjan's components of more than one module (or a module importing itself)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    # A package's __init__ re-exporting its modules, which import each other by
    # the package name, is not a circle of code: only edges between modules count.
    edges = {source: {t for t in targets if not source.startswith(t + ".")} for source, targets in graph().items()}
    assert strongly_connected(edges) == []


def test_the_checks_can_fail():
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert layer("keras_cgen.zoo.store") > layer("keras_cgen.training")
    with pytest.raises(AssertionError):
        assert not [t for t in ["keras_cgen.families.digits"] if layer(t) > layer("keras_cgen.zoo.store")]
