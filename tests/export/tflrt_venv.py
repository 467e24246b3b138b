"""A second environment, as a Raspberry Pi with numpy 1.x has it: numpy<2 + tflite-runtime 2.14,
no TensorFlow, no ai-edge-litert. Created once under .venv-tflrt (git-ignored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-tflrt"
PY = VENV / "bin" / "python"


def ensure_tflrt_venv() -> Path:
    marker = VENV / ".ready"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "numpy<2", "tflite-runtime==2.14.0"],
                       check=True, timeout=600)
        marker.write_text("numpy<2 tflite-runtime==2.14.0\n")
    return PY


RUN_SCRIPT = r'''
import sys, json
import numpy as np
sys.path.insert(0, sys.argv[1])
from device_runtime.litert import load_interpreter, SignatureRunner, runtime_name
art, out = sys.argv[2], sys.argv[3]
s = np.load(art + "/sample_inputs.npz")
batch = {n[7:]: s[n] for n in s.files if n.startswith("rerank.")}
quant = json.load(open(art + "/manifest.json"))["quantization"]
res = {"runtime": runtime_name(), "numpy": np.__version__}
for ref in (False, True):
    rr = SignatureRunner(load_interpreter(art + "/model.tflite", reference=ref, quantization=quant), "rerank")
    orders, steps, lrs = [], [], []
    for i in range(batch["cand_mask"].shape[0]):
        o = rr(**{k: v[i] for k, v in batch.items()})
        orders.append(o["order"]); steps.append(int(o["steps"])); lrs.append(float(o["list_reward"]))
    tag = "reference" if ref else "default"
    np.savez(out + "_" + tag + ".npz", order=np.array(orders), steps=np.array(steps), list_reward=np.array(lrs))
print(json.dumps(res))
'''


def run_in_tflrt(artifact: Path, out_prefix: Path) -> dict:
    import json

    py = ensure_tflrt_venv()
    proc = subprocess.run([str(py), "-c", RUN_SCRIPT, str(ROOT), str(artifact), str(out_prefix)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])
