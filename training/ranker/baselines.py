"""Baselines the ranker is measured against (besides the no-context network, which is the same
``Ranker`` with ``RankerConfig(use_context=False)`` trained by the same loop):

* ``server_pxtr`` — the server's own predictions, sent with the page, used as the predictor;
* ``logistic_regression`` — see ``training.ranker.logistic``.
"""

from __future__ import annotations

import numpy as np

from device_runtime import contract as C

#: Which ``contract.VIDEO_DENSE`` column holds the server's prediction of each task, and the
#: factor that undoes its normalisation (server_p_like is stored x LIKE_SCALE, clipped to 1).
SERVER_PXTR = {
    "has_next": ("server_p_has_next", 1.0),
    "effective_view": ("server_p_ev", 1.0),
    "like": ("server_p_like", 1.0 / C.LIKE_SCALE),
}


def server_pxtr(cand_dense: np.ndarray) -> dict[str, np.ndarray | None]:
    """{task: probability [n]} from the target's server pXTR, or None where the column is constant
    (a data set without that server prediction stores zeros)."""
    cand_dense = np.asarray(cand_dense)
    if cand_dense.ndim != 2 or cand_dense.shape[1] != C.N_VIDEO_DENSE:
        raise ValueError(f"`cand_dense` must have shape (n, {C.N_VIDEO_DENSE}), got {cand_dense.shape}")
    out: dict[str, np.ndarray | None] = {}
    for task, (column, scale) in SERVER_PXTR.items():
        p = cand_dense[:, C.VIDEO_DENSE.index(column)].astype(np.float64) * scale
        out[task] = None if p.size == 0 or np.ptp(p) == 0.0 else p
    return out
