"""Project rules that are easy to break silently: light imports, layering, no code execution from data."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dnnlik"
ROOT = PACKAGE.parent

# Layers, lowest first. A module may import only from its own layer or lower ones.
LAYERS = [
    {"_version", "errors", "digest", "report", "parameters", "points", "fsutil", "density", "_spec"},
    {"schema"},
    {"bundle"},
    {"evaluate", "likelihoods", "infer", "sample", "graph", "examples"},
    {"fidelity"},
    {"train", "zenodo", "zoo", "builder"},
    {"api"},
    {"combine"},  # above api: a member may be a path or zoo:/zenodo: reference that dnnlik.load reads
    {"cli", "__main__"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )


@pytest.mark.slow
def test_core_use_never_imports_tensorflow(gaussian_bundle):
    # a finder that makes any TensorFlow import fail loudly, so that nothing can even try
    proc = _run(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx'):
                    raise ImportError('blocked: ' + name)
        sys.meta_path.insert(0, Block())
        import dnnlik, dnnlik.cli, dnnlik.infer, dnnlik.likelihoods, dnnlik.graph
        from dnnlik.cli.main import COMMANDS, cli
        for name in COMMANDS:
            cli.get_command(None, name)
        b = dnnlik.load({str(gaussian_bundle)!r})
        b.logpdf([0.0, 0.0, 0.0, 0.0]); b.grad_logpdf([0.0, 0.0, 0.0, 0.0])
        assert dnnlik.validate({str(gaussian_bundle)!r}).ok
        bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx')]
        print('imported:', bad)
        assert not bad
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_and_version_are_light():
    proc = _run("""
        import sys
        import dnnlik
        from dnnlik.cli.main import main
        heavy = [m for m in ('onnxruntime', 'onnx', 'scipy', 'jsonschema', 'h5py', 'emcee') if m in sys.modules]
        print(dnnlik.__version__, heavy)
        assert not heavy, heavy
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _imports(path: Path) -> list[tuple[str, int]]:
    """Absolute dnnlik submodules imported by a file, with line numbers (relative imports resolved)."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = rel[:-1] if path.name != "__init__.py" else rel[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
            found += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


def _package_files():
    return sorted(p for p in PACKAGE.rglob("*.py") if "_spec" not in p.parts)


def test_layers_never_import_upward():
    bad = []
    for path in _package_files():
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        top = parts[0] if parts[0] != "__init__" else None
        if top is None:
            continue  # dnnlik/__init__.py re-exports lazily
        assert top in LEVEL, f"{path}: {top!r} is in no layer; add it to LAYERS"
        for name, line in _imports(path):
            if not name.startswith("dnnlik.") and name != "dnnlik":
                continue
            target = name.split(".")[1] if "." in name else None
            if target is None or target not in LEVEL:
                continue
            if LEVEL[target] > LEVEL[top]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name} (layer {LEVEL[target]} > {LEVEL[top]})")
    assert not bad, "\n".join(bad)


def _subpackage_graph() -> dict[str, set[str]]:
    """Which top-level subpackage imports which (at any depth, lazily or not)."""
    graph: dict[str, set[str]] = {}
    for path in _package_files():
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] == "__init__":
            continue
        for name, _ in _imports(path):
            if name.startswith("dnnlik.") and name.split(".")[1] in LEVEL and name.split(".")[1] != parts[0]:
                graph.setdefault(parts[0], set()).add(name.split(".")[1])
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's smallest rotation, found by depth-first search from each node."""
    found = set()
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    i = path.index(min(path))
                    found.add(tuple(path[i:] + path[:i]))
                elif nxt not in path:
                    stack.append((nxt, path + [nxt]))
    return [list(c) for c in sorted(found)]


def test_no_import_cycles_between_subpackages():
    cycles = _cycles(_subpackage_graph())
    assert not cycles, "import cycles (same-layer imports must go one way): " + "; ".join(
        " -> ".join(c + c[:1]) for c in cycles
    )


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_only_train_imports_tensorflow():
    bad = []
    for path in _package_files():
        if path.relative_to(PACKAGE).parts[0] == "train":
            continue
        for name, line in _imports(path):
            if name.split(".")[0] in ("tensorflow", "keras", "tf2onnx"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}


@pytest.mark.slow
def test_no_code_execution_from_data():
    bad = []
    for path in _package_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                bad.append(f"{where} calls {node.func.id}()")
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                    bad.append(f"{where} allows pickle")
        for name, line in _imports(path):
            if name.split(".")[0] in FORBIDDEN_MODULES:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_every_public_module_pins_its_api():
    missing = []
    for path in _package_files():
        if path.name.startswith("_") and path.name != "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        names = {
            t.id
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        if "__all__" not in names and path.name != "__main__.py":
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, "modules without __all__: " + ", ".join(missing)


@pytest.mark.slow
def test_wheel_ships_the_schemas(tmp_path):
    pytest.importorskip("hatchling")
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    import zipfile

    (wheel,) = tmp_path.glob("dnnlik-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.split("_spec/schemas/", 1)[1] for n in names if "dnnlik/_spec/schemas/" in n}
    in_repo = {str(p.relative_to(ROOT / "spec" / "schemas")) for p in (ROOT / "spec" / "schemas").rglob("*.json")}
    assert in_repo and shipped == in_repo
    assert "dnnlik/cli/main.py" in names
    assert not any(n.startswith(("tests/", "spec/")) for n in names)
