"""Training examples from logs: the contract's features, exactly as the device builds them, and the
labels.

Every feature column of a log row was produced by ``device_runtime.features`` (the one numpy
feature builder) from a snapshot of the device's ``SessionState``; this module only selects and
checks those columns, it computes no feature of its own. So the ranker trains on the arrays the
phone will feed it. TensorFlow-free, so baselines and metrics load without it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from device_runtime import contract as C
from training.data.synthetic_logs import LogArrays

#: Inputs of the ranker's ``call``, in order (equal to ``training.ranker.model.INPUT_NAMES``; a test
#: checks it, this copy keeps Keras out of the TensorFlow-free modules).
FEATURE_NAMES = ("hist_dense", "hist_ids", "hist_mask", "prefix_dense", "prefix_ids", "prefix_mask",
                 "cand_dense", "cand_ids", "context")

#: Per-row trailing shape of each feature given (N_h, L_max - 1); None = taken from the data.
_ROW_SHAPES = {
    "hist_dense": ("n_history", C.N_HIST_DENSE), "hist_ids": ("n_history", C.N_IDS),
    "hist_mask": ("n_history",), "prefix_dense": ("prefix_len", C.N_VIDEO_DENSE),
    "prefix_ids": ("prefix_len", C.N_IDS), "prefix_mask": ("prefix_len",),
    "cand_dense": (C.N_VIDEO_DENSE,), "cand_ids": (C.N_IDS,), "context": (C.N_CONTEXT,),
}
_DTYPES = {"hist_ids": np.int32, "prefix_ids": np.int32, "cand_ids": np.int32}


class RankerData(NamedTuple):
    """Ranker examples: one target per row."""

    inputs: dict[str, np.ndarray]  # FEATURE_NAMES → [n, ...] (float32 / int32 ids)
    labels: np.ndarray  # float32 [n, 3] in the order of contract.TASKS
    user_id: np.ndarray  # int64 [n]
    session_id: np.ndarray  # int64 [n]
    position: np.ndarray  # int64 [n], impression index within the session
    truth: np.ndarray | None = None  # float32 [n, 3]: a simulator's true probabilities (a ceiling), if any

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_history(self) -> int:
        return int(self.inputs["hist_mask"].shape[1])

    @property
    def prefix_len(self) -> int:
        return int(self.inputs["prefix_mask"].shape[1])

    def take(self, idx: np.ndarray) -> RankerData:
        idx = np.asarray(idx, dtype=np.int64)
        return RankerData({k: v[idx] for k, v in self.inputs.items()}, self.labels[idx],
                          self.user_id[idx], self.session_id[idx], self.position[idx],
                          None if self.truth is None else self.truth[idx])

    def batch(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.inputs.items()}


def ranker_data(logs: LogArrays) -> RankerData:
    """Select and check the contract's feature columns and the three labels of ``logs``."""
    if logs.n == 0:
        raise ValueError("`logs` must hold at least one impression, got 0 rows")
    dims = {"n_history": int(logs.hist_mask.shape[1]), "prefix_len": int(logs.prefix_mask.shape[1])}
    inputs = {}
    for name in FEATURE_NAMES:
        arr = getattr(logs, name)
        want = tuple(dims[d] if isinstance(d, str) else d for d in _ROW_SHAPES[name])
        if arr.shape[1:] != want:
            raise ValueError(f"`logs.{name}` must have per-row shape {want}, got {arr.shape[1:]}")
        dt = _DTYPES.get(name, np.float32)
        inputs[name] = np.ascontiguousarray(arr, dtype=dt)
    for name in ("hist_ids", "prefix_ids", "cand_ids"):
        for j, idname in enumerate(C.VIDEO_IDS):
            col = inputs[name][..., j]
            if col.size and (col.min() < 0 or col.max() >= C.ID_VOCAB[idname]):
                raise ValueError(f"`logs.{name}[..., {j}]` ({idname}) must lie in "
                                 f"[0, {C.ID_VOCAB[idname] - 1}], got [{col.min()}, {col.max()}]")
    labels = np.stack([np.asarray(getattr(logs, t), dtype=np.float32) for t in C.TASKS], axis=-1)
    truth = np.stack([np.asarray(getattr(logs, f"true_p_{t}"), dtype=np.float32) for t in C.TASKS], axis=-1)
    # a simulated log carries the world's probabilities; real logs (KuaiRand) leave them empty
    has_truth = truth.size > 0 and np.all(np.isfinite(truth)) and np.any(truth > 0)
    return RankerData(inputs, labels, np.asarray(logs.user_id, np.int64),
                      np.asarray(logs.session_id, np.int64), np.asarray(logs.position, np.int64),
                      truth if has_truth else None)
