"""Validate at the edge: what the runtime checks before rerank inputs reach the interpreter, and the
typed reasons it records when it serves the server order instead.

Two entry points: ``check_cache`` for the raw page cache a ``SessionState`` holds (NaN/inf,
empty, duplicate video ids, more than M_max), and ``check_inputs`` for contract tensors an app built
itself (names, shapes, dtypes, finiteness, id ranges against the contract for the artifact's
dims). Both raise ``InvalidInput(reason, message)``; messages name the input, what was expected
and what came.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from device_runtime import contract as C
from device_runtime.features import RawVideos


class FallbackReason(StrEnum):
    """Why a rerank served the server order. Stable codes for counters and event logs."""

    EMPTY_PAGE = "empty_page"
    NON_FINITE = "non_finite"
    BAD_SHAPE = "bad_shape"
    BAD_DTYPE = "bad_dtype"
    MISSING_INPUT = "missing_input"
    ID_OUT_OF_RANGE = "id_out_of_range"
    DUPLICATE_IDS = "duplicate_ids"
    INTERPRETER_ERROR = "interpreter_error"
    BAD_OUTPUT = "bad_output"
    STRATEGY_UNAVAILABLE = "strategy_unavailable"
    # the artifact could not be used (codes of device_runtime.artifact.ArtifactError, plus load_error)
    MISSING_MANIFEST = "missing_manifest"
    BAD_MANIFEST = "bad_manifest"
    SCHEMA_VERSION = "schema_version"
    MISSING_FILE = "missing_file"
    HASH_MISMATCH = "hash_mismatch"
    SIGNATURE_MISMATCH = "signature_mismatch"
    LOAD_ERROR = "load_error"

    @staticmethod
    def of_artifact_error(reason: str) -> FallbackReason:
        try:
            return FallbackReason(reason)
        except ValueError:
            return FallbackReason.LOAD_ERROR


class InvalidInput(Exception):
    """An input the runtime will not feed to the model; ``reason`` is a ``FallbackReason``."""

    def __init__(self, reason: FallbackReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_RAW_FLOATS = ("server_p_ev", "server_p_like", "server_p_has_next", "duration_s", "age_days")


def check_cache(cache: RawVideos, m_max: int) -> int:
    """Validate a page cache; returns how many entries beyond ``m_max`` will not be reranked."""
    n = len(cache)
    if n == 0:
        raise InvalidInput(FallbackReason.EMPTY_PAGE, "`cache` must hold at least 1 candidate, got 0")
    for name in RawVideos._fields:
        shape = np.shape(getattr(cache, name))
        if shape != (n,):
            raise InvalidInput(FallbackReason.BAD_SHAPE, f"`cache.{name}` must have shape ({n},), got {shape}")
    for name in _RAW_FLOATS:
        col = np.asarray(getattr(cache, name))
        if not np.all(np.isfinite(col.astype(np.float64))):
            bad = int(np.flatnonzero(~np.isfinite(col.astype(np.float64)))[0])
            raise InvalidInput(FallbackReason.NON_FINITE,
                               f"`cache.{name}` must be finite, got {col[bad]!r} at cache index {bad}")
    ids = np.asarray(cache.video_id)
    uniq, counts = np.unique(ids, return_counts=True)
    if uniq.size != n:
        dup = [int(v) for v in uniq[counts > 1][:5]]
        raise InvalidInput(FallbackReason.DUPLICATE_IDS, f"`cache.video_id` must be unique, got repeats of {dup}")
    return max(n - m_max, 0)


def input_specs(dims: C.Dims) -> list[C.TensorSpec]:
    """The tensors every strategy reads: the rerank inputs without the search parameters."""
    return C.history_specs(dims) + C.candidate_specs(dims) + C.context_specs()


_CAND = ("cand_dense", "cand_ids", "cand_mask")


def check_inputs(inputs: dict[str, np.ndarray], dims: C.Dims) -> tuple[dict[str, np.ndarray], int]:
    """Validate rerank inputs (contract tensors); returns them with the candidates cut to M_max in
    server order, and how many candidates were cut."""
    specs = input_specs(dims)
    missing = [s.name for s in specs if s.name not in inputs]
    if missing:
        raise InvalidInput(FallbackReason.MISSING_INPUT, f"a rerank must have inputs {missing}, got {sorted(inputs)}")
    out = {s.name: np.asarray(inputs[s.name]) for s in specs}
    cut = 0
    n_cand = out["cand_mask"].shape[0] if out["cand_mask"].ndim == 1 else -1
    if n_cand > dims.m_max:  # keep the first M_max by server order
        cut = n_cand - dims.m_max
        for name in _CAND:
            out[name] = out[name][: dims.m_max]
    for s in specs:
        a = out[s.name]
        if a.dtype != np.dtype(s.dtype):
            raise InvalidInput(FallbackReason.BAD_DTYPE, f"`{s.name}` must have dtype {s.dtype}, got {a.dtype}")
        if a.shape != s.shape:
            raise InvalidInput(FallbackReason.BAD_SHAPE, f"`{s.name}` must have shape {s.shape}, got {a.shape}")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise InvalidInput(FallbackReason.NON_FINITE,
                               f"`{s.name}` must be finite, got {int((~np.isfinite(a)).sum())} NaN/inf values")
        if s.name.endswith("_ids"):
            # per id column (the spec's single range is the tightest over all columns)
            for j, col in enumerate(C.VIDEO_IDS):
                hi = C.ID_VOCAB[col] - 1
                if a[..., j].min() < 0 or a[..., j].max() > hi:
                    raise InvalidInput(FallbackReason.ID_OUT_OF_RANGE,
                                       f"`{s.name}[..., {j}]` ({col}) must lie in [0, {hi}], "
                                       f"got [{a[..., j].min()}, {a[..., j].max()}]")
    if not (out["cand_mask"] > 0.5).any():
        raise InvalidInput(FallbackReason.EMPTY_PAGE, "`cand_mask` must mark at least 1 candidate, got 0")
    return out, cut


def check_order(order: np.ndarray, cand_mask: np.ndarray) -> np.ndarray:
    """A strategy's output must put every valid slot exactly once, first: else BAD_OUTPUT."""
    order = np.asarray(order).reshape(-1)
    valid = np.flatnonzero(np.asarray(cand_mask) > 0.5)
    head = order[: valid.size]
    if order.shape != cand_mask.shape or not np.array_equal(np.sort(head), valid):
        raise InvalidInput(FallbackReason.BAD_OUTPUT,
                           f"`order` must be a permutation of the {valid.size} valid slots, got {order.tolist()}")
    return head.astype(np.int64)
