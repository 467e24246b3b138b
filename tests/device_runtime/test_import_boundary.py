"""The one-way rule: device_runtime never imports TensorFlow, Keras, training or export."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("tensorflow", "keras", "tf2onnx", "training", "export", "pyarrow")


def test_no_forbidden_imports_in_source():
    for path in (ROOT / "device_runtime").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in FORBIDDEN, f"{path.name} imports {n}"


def test_device_modules_leave_tensorflow_out_of_a_fresh_interpreter():
    code = (
        "import pkgutil, importlib, sys, device_runtime\n"
        "for m in pkgutil.iter_modules(device_runtime.__path__):\n"
        "    importlib.import_module('device_runtime.' + m.name)\n"
        "from device_runtime.world import SyntheticWorld\n"
        "from device_runtime.rollout import run_session\n"
        "w = SyntheticWorld(); run_session(w, w.new_session(0, 0))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'training', 'export')]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"
