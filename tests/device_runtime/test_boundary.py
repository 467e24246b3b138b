"""The device boundary, tested rather than hoped:

* an emulate session in a fresh interpreter never loads TensorFlow, Keras, training, export or
  pyarrow — with a good artifact and with a corrupted one (which falls back, without raising);
* a fresh virtual environment holding only the base package's dependency closure (numpy,
  ai-edge-litert, tqdm and what they require — no ``train`` extra) runs the device tests.

The fresh environment is built offline from the distributions already installed in this
interpreter: every distribution in the closure of ``[project] dependencies`` (markers evaluated,
no extras) is linked into its site-packages, plus pytest's closure to run the tests, plus the
repository on a ``.pth`` path (an editable base install). Nothing else is importable there, so a
TensorFlow import anywhere in the device path fails the run."""

import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests.device_runtime.golden_artifact import copy_artifact

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("tensorflow", "keras", "training", "export", "pyarrow", "tf2onnx")
#: device test files run in the base environment (the world-statistics tests are numpy-only too,
#: but take minutes; the import-boundary tests cover every device_runtime module)
BASE_ENV_TESTS = ("test_contract.py", "test_import_boundary.py", "test_reranker.py",
                  "test_reranker_fallbacks.py", "test_events.py", "test_emulator.py", "test_emulator_logs.py")


def _emulate_in_fresh_interpreter(artifact: Path, out: Path) -> subprocess.CompletedProcess:
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from reelrank.cli import main\n"
        f"rc = main(['emulate', '--artifact', {str(artifact)!r}, '--sessions', '2', '--seed', '1',\n"
        "            '--strategies', 'server,greedy,adaptive_beam,python_beam', '--quiet',\n"
        f"            '--json', {str(out)!r}, '--png', {str(out.with_suffix('.png'))!r}])\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps({'rc': rc, 'forbidden': bad}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("corrupt", [False, True])
def test_emulate_keeps_tensorflow_out_and_survives_a_corrupted_artifact(tmp_path, corrupt):
    art = copy_artifact(tmp_path / "art")
    if corrupt:
        blob = bytearray((art / "model.tflite").read_bytes())
        blob[1000:1100] = b"\x00" * 100
        (art / "model.tflite").write_bytes(bytes(blob))
    out = tmp_path / "out.json"
    proc = _emulate_in_fresh_interpreter(art, out)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "forbidden": []}
    rep = json.loads(out.read_text())
    s = rep["strategies"]
    if corrupt:
        assert rep["artifact"]["error"] == "hash_mismatch" and "artifact unusable" in proc.stderr
        for name in ("greedy", "adaptive_beam", "python_beam"):  # every rerank fell back to server order
            assert s[name]["fallbacks"] == s[name]["reranks"] > 0
            assert s[name]["fallback_reasons"] == {"hash_mismatch": s[name]["reranks"]}
            assert s[name]["total_reward"] == s["server"]["total_reward"]
    else:
        assert rep["artifact"]["ok"] and all(v["fallbacks"] == 0 for v in s.values())


def _closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = req.name.lower().replace("_", "-")
        if key in seen:
            continue
        dist = metadata.distribution(req.name)
        seen[key] = dist
        todo.extend(dist.requires or [])
    return seen


def _link_distribution(dist: metadata.Distribution, site: Path) -> None:
    base = Path(dist.locate_file(""))
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
    for top in sorted(tops):
        src, dst = base / top, site / top
        if top.endswith(".pth") or top == "__pycache__" or dst.exists() or not src.exists():
            continue
        dst.symlink_to(src, target_is_directory=src.is_dir())


@pytest.mark.slow
def test_device_tests_pass_in_a_base_install_without_tensorflow(tmp_path):
    pytest.importorskip("packaging")
    env = tmp_path / "base-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    py = env / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    dists = _closure(base + ["pytest"])
    names = set(dists)
    assert {"numpy", "ai-edge-litert", "tqdm"} <= names
    assert not names & {"tensorflow", "tensorflow-cpu", "keras", "pyarrow"}, names
    for dist in dists.values():
        _link_distribution(dist, site)
    (site / "reelrank_source.pth").write_text(str(ROOT) + "\n")
    probe = subprocess.run([str(py), "-c", "import tensorflow"], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'tensorflow'" in probe.stderr
    tests = [f"tests/device_runtime/{f}" for f in BASE_ENV_TESTS]
    proc = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *tests],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    assert "1 skipped" in proc.stdout  # test_emulator_logs: no pyarrow in a base install
