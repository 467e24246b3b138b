"""The one-way rule, checked on the source and in fresh interpreters.

- ``device_runtime`` (core and ``sim``) never imports TensorFlow, Keras, training or export.
- The core never imports ``device_runtime.sim`` — not at the top, not inside a function, not
  relatively: every import statement in every core module is parsed.
- Importing the public API loads neither ``device_runtime.sim`` nor TensorFlow.
- No import cycle between packages, nor between the core's modules.
"""

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("tensorflow", "keras", "tf2onnx", "training", "export", "pyarrow")
PACKAGES = ("device_runtime", "training", "export", "benchmarks", "reelrank")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, module: str | None = None) -> list[str]:
    """Absolute names of everything ``path`` imports, anywhere in the file (relative imports resolved)."""
    mod = module or _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.append(prefix)
            # `from pkg import sub` may name a submodule
            out += [f"{prefix}.{a.name}" for a in node.names if a.name != "*"]
    return out


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _is_sim(path: Path) -> bool:
    return "sim" in path.relative_to(ROOT / "device_runtime").parts[:-1]


def test_no_forbidden_imports_in_device_runtime():
    for path in _sources("device_runtime"):
        for n in imported_modules(path):
            assert n.split(".")[0] not in FORBIDDEN, f"{path.relative_to(ROOT)} imports {n}"


def test_core_never_imports_the_simulator():
    core = [p for p in _sources("device_runtime") if not _is_sim(p)]
    assert len(core) >= 10
    for path in core:
        for n in imported_modules(path):
            assert not (n == "device_runtime.sim" or n.startswith("device_runtime.sim.")), \
                f"{path.relative_to(ROOT)} imports {n}: the core must not import the simulator"


def test_the_boundary_check_catches_a_lazy_and_a_relative_sim_import(tmp_path):
    """The parser sees imports inside functions and relative ones (a check that cannot fail is no check)."""
    fake = tmp_path / "probe.py"
    fake.write_text("def f():\n    from .sim import world\n    import device_runtime.sim.rollout\n")
    names = imported_modules(fake, module="device_runtime.probe")
    assert "device_runtime.sim.world" in names and "device_runtime.sim.rollout" in names


def _assert_clean(code: str) -> None:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_public_api_loads_no_simulator_and_no_tensorflow_in_a_fresh_interpreter():
    code = (
        "import sys, device_runtime\n"
        "from device_runtime import *\n"
        "missing = [n for n in device_runtime.__all__ if not hasattr(device_runtime, n)]\n"
        "assert not missing, missing\n"
        "import device_runtime.reranker, device_runtime.features, device_runtime.session, "
        "device_runtime.validation, device_runtime.contract, device_runtime.feed, device_runtime.events\n"
        "bad = [m for m in sys.modules if m.startswith('device_runtime.sim') or "
        "m.split('.')[0] in ('tensorflow', 'keras', 'training', 'export')]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    _assert_clean(code)


def test_simulator_leaves_tensorflow_out_of_a_fresh_interpreter():
    code = (
        "import pkgutil, importlib, sys, device_runtime, device_runtime.sim\n"
        "for pkg in (device_runtime, device_runtime.sim):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "from device_runtime.sim.world import SyntheticWorld\n"
        "from device_runtime.sim.rollout import run_session\n"
        "w = SyntheticWorld(); run_session(w, w.new_session(0, 0))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'training', 'export')]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    _assert_clean(code)


def _node(module: str) -> str | None:
    """The package a module belongs to (``device_runtime.sim`` counts as its own package)."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if module == "device_runtime.sim" or module.startswith("device_runtime.sim."):
        return "device_runtime.sim"
    return top


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in _sources(package):
            src = _node(_module_name(path))
            assert src is not None
            deps = {d for d in map(_node, imported_modules(path)) if d and d != src}
            graph.setdefault(src, set()).update(deps)
    return graph


def test_no_import_cycle_between_packages():
    graph = package_graph()
    assert graph["device_runtime"] == set(), graph["device_runtime"]
    assert graph["device_runtime.sim"] == {"device_runtime"}
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index("device_runtime") < order.index("training") < order.index("benchmarks")
    assert "benchmarks" not in graph["training"] | graph["export"]


def test_no_import_cycle_between_core_modules():
    graph: dict[str, set[str]] = {}
    core = {_module_name(p): p for p in _sources("device_runtime") if not _is_sim(p)}
    for mod, path in core.items():
        if mod == "device_runtime":
            continue  # the package's __init__ re-exports the public API
        graph[mod] = {d for d in imported_modules(path) if d in core and d not in (mod, "device_runtime")}
    graphlib.TopologicalSorter(graph).prepare()


def test_the_cycle_check_fails_on_a_cycle():
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).prepare()
