"""ONNX: tf2onnx over the frozen SavedModel's `rerank` signature (`from_keras` is broken for Keras 3).
The while loop becomes an ONNX `Loop`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np


def export_onnx(savedmodel_dir: str | Path, out_path: str | Path, opset: int = 17) -> Path:
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(savedmodel_dir),
           "--signature_def", "rerank", "--opset", str(opset), "--output", str(out_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not Path(out_path).exists():
        raise RuntimeError(f"tf2onnx failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return Path(out_path)


class OnnxRerank:
    """The ONNX `rerank` under onnxruntime, called with the contract's input names."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, **feeds) -> dict[str, np.ndarray]:
        dt = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}
        args = {}
        for name, meta in self.inputs.items():
            key = name.split(":")[0]
            args[name] = np.asarray(feeds[key], dtype=dt[meta.type])  # 0-d arrays for scalars
        vals = self.session.run(self.outputs, args)
        return {o.split(":")[0]: v for o, v in zip(self.outputs, vals, strict=True)}
