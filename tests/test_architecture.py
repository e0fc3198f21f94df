"""The shape of the package (docs/architecture.md): the import graph has no circle, no
engine imports another engine, and nothing low imports the top. Every import counts,
those inside functions too: a lazy import can hide a circle but not remove it."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "dnnl_py"

# Layers, lowest first: a module imports only from its own layer's lower entries or from
# lower layers (checked below as "no edge upwards"). Engines are cpu.* and ocl.*.
LAYERS = [
    ["_errors", "_build_info", "kinds", "spatial", "record"],
    ["blob", "tuning", "verbose", "runtime", "kernel_abi", "cache"],
    ["store"],
    ["memory_desc", "attr"],
    ["cache_key", "blob_id", "primitive_cache"],
    ["layout", "impl", "reduction"],
    ["cpu.*", "ocl.*"],
    ["engine", "memory"],
    ["primitive_blob"],
    ["primitive"],
    ["convolution", "matmul", "reorder", "concat", "pooling", "softmax",
     "layer_normalization", "batch_normalization", "eltwise", "binary"],  # one module a kind
    ["model.onnx_proto", "model.shapes", "model.hashing"],  # the model layer (docs/models.md)
    ["model.cache"],
    ["model.read"],
    ["model.compile"],
    ["model.core"],
    ["ocl_interop", "__init__", "model", "benchdnn.*", "cache.__main__", "benchmark_app"],
]
ENGINES = ("cpu", "ocl")


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def resolve(current: str, is_package: bool, node) -> list:
    """The dnnl_py modules an import statement reaches."""
    if isinstance(node, ast.Import):
        return [a.name[len("dnnl_py."):] for a in node.names if a.name.startswith("dnnl_py.")]
    if node.level == 0:
        if not (node.module or "").startswith("dnnl_py"):
            return []
        base = (node.module or "")[len("dnnl_py"):].lstrip(".")
    else:
        package = current.split(".") if is_package else current.split(".")[:-1]
        if current == "__init__":
            package = []
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    found = []
    for alias in node.names:  # `from . import x` may name a submodule
        sub = f"{base}.{alias.name}" if base else alias.name
        found.append(sub if sub in MODULES else (base or "__init__"))
    return found


def import_graph() -> dict:
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(resolve(name, path.name == "__init__.py", node))
        graph[name] = {e for e in edges if e in MODULES and e != name}
    return graph


def layer(name: str) -> int:
    for i, entries in enumerate(LAYERS):
        for entry in entries:
            if name == entry or (entry.endswith(".*") and name.startswith(entry[:-1])) \
                    or (entry.endswith(".*") and name == entry[:-2]):
                return i
    raise AssertionError(f"dnnl_py.{name} is in no layer of tests/test_architecture.py")


def test_every_module_has_a_layer():
    for name in MODULES:
        layer(name)


def test_no_import_runs_upwards_or_across_engines():
    bad = []
    for name, edges in import_graph().items():
        for target in edges:
            if layer(target) > layer(name):
                bad.append(f"{name} -> {target} (layer {layer(name)} imports layer "
                           f"{layer(target)})")
            a, b = name.split(".")[0], target.split(".")[0]
            if a in ENGINES and b in ENGINES and a != b:
                bad.append(f"{name} -> {target}: one engine imports another")
    assert bad == []


def test_the_import_graph_has_no_circle():
    graph, state, circles = import_graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


@pytest.mark.parametrize("source, expected", [
    ("from .. import blob", {"blob"}), ("from ..impl import Decline", {"impl"}),
    ("from .runtime import X", {"cpu.runtime"}), ("from . import impl_list", {"cpu.impl_list"}),
    ("import dnnl_py.layout", {"layout"}),
])
def test_the_check_resolves_imports(source, expected):
    node = ast.parse(source).body[0]
    assert set(resolve("cpu.convolution", False, node)) == expected


def test_the_c_header_is_checked_against_kernel_abi(monkeypatch):
    """csrc/dnnl_kernels.h's post-op numbers must match dnnl_py/kernel_abi.py, where they
    are declared: the CPU extension checks at import (it imported, so they match now)."""
    from dnnl_py import kernel_abi
    from dnnl_py.cpu import _kernels
    _kernels._check_abi()
    monkeypatch.setitem(kernel_abi.ELTWISE_ID, next(iter(kernel_abi.ELTWISE_ID)), 99)
    with pytest.raises(ImportError, match="DNNL_ELT_RELU 0 vs 99"):
        _kernels._check_abi()
