"""The feature contract: every name, shape, dtype, vocabulary and normalisation in one place.

Training, export, the device runtime and the tests all import these constants, so the features a
model is trained on and the features a phone builds at serving time cannot drift apart. Pure
Python + numpy; bump ``SCHEMA_VERSION`` whenever a name, order, shape or normalisation changes.

A ranking context for one candidate at list position i is c(i) = (H, v_1..v_{i-1}, O):

* ``hist_*``    the last N_h watched videos, newest first, with the user's feedback on each;
* ``prefix_*``  the candidates already placed before position i (at most L_max - 1 of them);
* ``cand_*``    the candidate itself (server pXTR, duration, age, server rank, topic, author);
* ``context``   other context of the rerank moment (position, elapsed time, network, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

SCHEMA_VERSION: Final = "2.0"  # 2.0: hate feedback in the history (1.0 artifacts are refused)

# --- video (candidate) features -------------------------------------------------------------
#: Dense features of a video, in this order. All are normalised to roughly [0, 1].
VIDEO_DENSE: Final = (
    "server_p_ev",  # server's predicted effective-view probability (pXTR), as sent with the page
    "server_p_like",  # server's predicted like probability, scaled by LIKE_SCALE and clipped to 1
    "server_p_has_next",  # server's predicted continuation probability
    "duration",  # log1p(min(seconds, 1800)) / log1p(1800)
    "age",  # log1p(min(days, 365)) / log1p(365)
    "server_rank",  # rank the server gave within its page / M_MAX_DEFAULT, clipped to 1
)
#: Integer ids of a video, in this order. 0 is reserved for "unknown / padding".
VIDEO_IDS: Final = ("topic", "author")
#: Vocabulary size of each id (ids are taken modulo ``size - 1`` and shifted by one).
ID_VOCAB: Final = {"topic": 64, "author": 1024}

# --- feedback on watched videos ---------------------------------------------------------------
FEEDBACK: Final = (
    "watch_ratio",  # watch time / duration, clipped to [0, WATCH_RATIO_CAP] / WATCH_RATIO_CAP
    "effective_view",  # 1 if the watch time passed the effective-view threshold
    "like",  # 1 if liked
    "skip",  # 1 if the user swiped away within SKIP_SECONDS
    "hate",  # 1 if the user marked the video "not interested" (explicit negative feedback)
)

# --- other context of a rerank -----------------------------------------------------------------
CONTEXT: Final = (
    "position",  # log1p(impressions so far in the session) / log1p(200), clipped to 1
    "elapsed",  # log1p(seconds since the session began) / log1p(3600), clipped to 1
    "since_last",  # log1p(seconds since the last impression ended) / log1p(600), clipped to 1
    "network",  # 1 on wifi, 0 on cellular
)

#: Model outputs (tasks), in this order.
TASKS: Final = ("has_next", "effective_view", "like")

LIKE_SCALE: Final = 10.0
WATCH_RATIO_CAP: Final = 2.0
SKIP_SECONDS: Final = 3.0
DURATION_CAP_S: Final = 1800.0
AGE_CAP_DAYS: Final = 365.0

N_VIDEO_DENSE: Final = len(VIDEO_DENSE)
N_IDS: Final = len(VIDEO_IDS)
N_FEEDBACK: Final = len(FEEDBACK)
N_HIST_DENSE: Final = N_VIDEO_DENSE + N_FEEDBACK
N_CONTEXT: Final = len(CONTEXT)

N_HISTORY_DEFAULT: Final = 8
M_MAX_DEFAULT: Final = 16
L_MAX_DEFAULT: Final = 6
BEAM_SIZE_DEFAULT: Final = 4

FLOAT: Final = np.float32
INT: Final = np.int32


@dataclass(frozen=True)
class Dims:
    """Fixed sizes of one export: every tensor in a signature is padded to these."""

    n_history: int = N_HISTORY_DEFAULT
    """N_h: watched videos kept in the real-time history (newest first)."""
    m_max: int = M_MAX_DEFAULT
    """M_max: candidate slots per rerank (the page cache is padded or cut to this)."""
    l_max: int = L_MAX_DEFAULT
    """L_max: maximum beam-search steps; the placed prefix holds at most L_max - 1 videos."""

    def __post_init__(self) -> None:
        for name in ("n_history", "m_max", "l_max"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}")
        if self.l_max > self.m_max:
            raise ValueError(f"`l_max` must be <= `m_max` = {self.m_max}, got {self.l_max}")

    @property
    def prefix_len(self) -> int:
        return max(self.l_max - 1, 1)


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of a signature."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name
    low: int | None = None  # valid range of integer tensors (inclusive)
    high: int | None = None

    def to_json(self) -> dict:
        out: dict = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.low is not None:
            out["range"] = [self.low, self.high]
        return out


def _ids_high() -> int:
    return min(ID_VOCAB.values()) - 1  # tightest range valid for every id column


def history_specs(d: Dims) -> list[TensorSpec]:
    return [
        TensorSpec("hist_dense", (d.n_history, N_HIST_DENSE), "float32"),
        TensorSpec("hist_ids", (d.n_history, N_IDS), "int32", 0, _ids_high()),
        TensorSpec("hist_mask", (d.n_history,), "float32"),
    ]


def candidate_specs(d: Dims) -> list[TensorSpec]:
    return [
        TensorSpec("cand_dense", (d.m_max, N_VIDEO_DENSE), "float32"),
        TensorSpec("cand_ids", (d.m_max, N_IDS), "int32", 0, _ids_high()),
        TensorSpec("cand_mask", (d.m_max,), "float32"),
    ]


def prefix_specs(d: Dims) -> list[TensorSpec]:
    return [
        TensorSpec("prefix_dense", (d.prefix_len, N_VIDEO_DENSE), "float32"),
        TensorSpec("prefix_ids", (d.prefix_len, N_IDS), "int32", 0, _ids_high()),
        TensorSpec("prefix_mask", (d.prefix_len,), "float32"),
    ]


def context_specs() -> list[TensorSpec]:
    return [TensorSpec("context", (N_CONTEXT,), "float32")]


#: Which candidate input each prefix input's rows are gathered from (manifest, checkers).
PREFIX_GATHERED_FROM: Final = {"prefix_dense": "cand_dense", "prefix_ids": "cand_ids"}

SCORE_SIGNATURE: Final = "score"
RERANK_SIGNATURE: Final = "rerank"
POLICY_SIGNATURE: Final = "policy_rerank"

SCORE_OUTPUTS: Final = ("p_has_next", "p_effective_view", "p_like")
RERANK_PARAMS: Final = ("alpha", "beta", "threshold", "n_show")
RERANK_OUTPUTS: Final = ("order", "list_reward", "steps")
DEFAULT_RERANK_PARAMS: Final = {"alpha": 1.0, "beta": 5.0, "threshold": 0.95, "n_show": 1}
# What the rerank parameters mean:
#   alpha, beta  ListReward weights of p_effective_view and p_like.
#   threshold    t: adaptive search stops once stability = min(beam LR) / max(beam LR) >= t.
#   n_show       the MINIMUM NUMBER OF SEARCH STEPS before the stability test may stop the search
#                (Kuaishou's n: how many items the client shows from the list; 1 in an immersive
#                feed). The tensor keeps the paper's name; it does not limit how many are shown.


def score_inputs(d: Dims) -> list[TensorSpec]:
    return history_specs(d) + prefix_specs(d) + candidate_specs(d) + context_specs()


def score_outputs(d: Dims) -> list[TensorSpec]:
    return [TensorSpec(n, (d.m_max,), "float32") for n in SCORE_OUTPUTS]


def rerank_inputs(d: Dims) -> list[TensorSpec]:
    return (
        history_specs(d)
        + candidate_specs(d)
        + context_specs()
        + [
            TensorSpec("alpha", (), "float32"),
            TensorSpec("beta", (), "float32"),
            TensorSpec("threshold", (), "float32"),
            TensorSpec("n_show", (), "int32", 0, d.l_max),
        ]
    )


def rerank_outputs(d: Dims) -> list[TensorSpec]:
    return [
        TensorSpec("order", (d.m_max,), "int32", -1, d.m_max - 1),
        TensorSpec("list_reward", (), "float32"),
        TensorSpec("steps", (), "int32", 0, d.l_max),
    ]


#: ``policy.tflite`` (the compact policy): ``policy_rerank`` scores the page and orders it;
#: ``policy_guide`` turns those scores into λ·(min-max normalised score) for policy-guided beam
#: search (λ is fixed at export).
POLICY_GUIDE_SIGNATURE: Final = "policy_guide"
POLICY_OUTPUTS: Final = ("scores", "order")


def policy_inputs(d: Dims) -> list[TensorSpec]:
    return history_specs(d) + candidate_specs(d) + context_specs()


def policy_outputs(d: Dims) -> list[TensorSpec]:
    return [TensorSpec("scores", (d.m_max,), "float32"), TensorSpec("order", (d.m_max,), "int32", -1, d.m_max - 1)]


def policy_signature_specs(d: Dims) -> dict[str, dict[str, list[TensorSpec]]]:
    return {
        POLICY_SIGNATURE: {"inputs": policy_inputs(d), "outputs": policy_outputs(d)},
        POLICY_GUIDE_SIGNATURE: {
            "inputs": [TensorSpec("scores", (d.m_max,), "float32"), TensorSpec("cand_mask", (d.m_max,), "float32")],
            "outputs": [TensorSpec("guide", (d.m_max,), "float32")],
        },
    }


def signature_specs(d: Dims) -> dict[str, dict[str, list[TensorSpec]]]:
    return {
        SCORE_SIGNATURE: {"inputs": score_inputs(d), "outputs": score_outputs(d)},
        RERANK_SIGNATURE: {"inputs": rerank_inputs(d), "outputs": rerank_outputs(d)},
    }


def feature_spec_json() -> dict:
    """The feature spec as written into every manifest."""
    return {
        "schema_version": SCHEMA_VERSION,
        "video_dense": list(VIDEO_DENSE),
        "video_ids": list(VIDEO_IDS),
        "id_vocab": dict(ID_VOCAB),
        "feedback": list(FEEDBACK),
        "context": list(CONTEXT),
        "tasks": list(TASKS),
        "normalisation": {
            "like_scale": LIKE_SCALE,
            "watch_ratio_cap": WATCH_RATIO_CAP,
            "skip_seconds": SKIP_SECONDS,
            "duration_cap_s": DURATION_CAP_S,
            "age_cap_days": AGE_CAP_DAYS,
        },
    }
