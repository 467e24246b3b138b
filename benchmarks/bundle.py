"""`reelrank bundle ARTIFACT --out bundle/`: what a user copies to a Raspberry Pi or an Android
phone (Termux) to verify and benchmark an artifact there: the device artifact (no SavedModel), a
wheel of the base package (numpy + LiteRT; no TensorFlow), and a README with the exact commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from device_runtime.artifact import MANIFEST, load_manifest

README = """# ReelRank device bundle

Artifact: `artifact/` (M_max {m_max}, beam size {k}, L_max {l_max}, quantization {quant}, {params} parameters).
Everything here runs without TensorFlow. `reelrank bench latency` writes the same JSON as on the server.

## Raspberry Pi OS (64-bit) or any aarch64/x86_64 Linux with Python >= 3.11

    python3 -m venv ~/reelrank && . ~/reelrank/bin/activate
    pip install wheels/{wheel}
    reelrank verify artifact
    reelrank bench latency --artifact artifact --runtimes tflite_xnnpack,tflite_reference,python_beam --threads 1,2,4 --json bench.json

Where no `ai-edge-litert` wheel exists for the platform (or numpy must stay 1.x), use tflite-runtime,
which the runtime falls back to by itself (fp16 artifacts then run with the reference kernels):

    pip install --no-deps wheels/{wheel} "numpy<2" tflite-runtime==2.14.0 tqdm
    reelrank bench latency --artifact artifact --runtimes tflite_xnnpack,tflite_reference,python_beam --json bench.json

## Android (Termux)

    pkg install python python-numpy
    pip install --no-deps wheels/{wheel} tqdm ai-edge-litert
    reelrank bench latency --artifact artifact --runtimes tflite_xnnpack,tflite_reference,python_beam --json bench.json

Send `bench.json` back; on the server `reelrank bench latency` prints the same table from its JSON.
"""


def build_bundle(artifact: str | Path, out: str | Path, repo_root: str | Path | None = None) -> dict:
    artifact, out = Path(artifact), Path(out)
    manifest = load_manifest(artifact)
    repo_root = Path(repo_root or Path(__file__).resolve().parents[1])
    if out.exists():
        shutil.rmtree(out)
    (out / "artifact").mkdir(parents=True)
    for name in [*manifest["files"], MANIFEST]:
        shutil.copy2(artifact / name, out / "artifact" / name)
    load_manifest(out / "artifact")  # the copy verifies against its own manifest
    wheels = out / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(repo_root)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{proc.stderr[-2000:]}")
    wheel = sorted(wheels.glob("reelrank-*.whl"))[-1].name
    d = manifest["dims"]
    (out / "README.md").write_text(README.format(m_max=d["m_max"], k=manifest["beam_size"], l_max=d["l_max"],
                                                 quant=manifest["quantization"], params=manifest.get("params"), wheel=wheel))
    return {"out": str(out), "wheel": wheel, "files": sorted(p.name for p in (out / "artifact").iterdir())}
