"""The device reranker: an artifact directory in, an order over the page cache out — never an
exception into the app loop.

Loading validates the manifest (schema version, sha256 of every file, signatures equal to the
contract) and opens ``model.tflite`` through LiteRT (``ai_edge_litert``, falling back to
``tflite_runtime``); signature runners are created once and cached. A rerank builds the inputs
from the session state with the contract's feature builder, validates them, runs the strategy and
checks its output. Anything that goes wrong — a missing or tampered artifact, NaN/inf, wrong
shape or dtype, an empty page, duplicate ids, an interpreter error, a malformed output — serves the
server order, records a typed ``FallbackReason`` on the result and counts it. More than M_max
candidates is not an error: the first M_max (server order) are reranked, the rest follow.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from device_runtime import contract as C
from device_runtime.artifact import (
    MODEL,
    POLICY,
    ArtifactError,
    check_signatures,
    dims_of,
    load_manifest,
)
from device_runtime.features import Candidates, RawVideos, build_candidates, video_dense, video_ids
from device_runtime.litert import SignatureRunner, load_interpreter
from device_runtime.session import SessionState
from device_runtime.strategies import RerankInputs, SearchParams, get_strategy
from device_runtime.validation import (
    FallbackReason,
    InvalidInput,
    check_cache,
    check_inputs,
    check_order,
)


@dataclass(frozen=True)
class RerankerConfig:
    """How the runtime opens an artifact."""

    threads: int = 1
    """Interpreter threads (1: the emulator runs many sessions; phones pin one big core)."""
    reference_kernels: bool = False
    """Use the builtin reference kernels instead of the default XNNPACK delegate."""
    check_hashes: bool = True
    """Refuse an artifact whose files do not match the manifest's sha256."""
    alpha: float | None = None
    """ListReward weight of p_effective_view; None = the manifest's default."""
    beta: float | None = None
    """ListReward weight of p_like; None = the manifest's default."""
    threshold: float | None = None
    """Stability threshold of adaptive_beam/python_beam; None = the manifest's default."""


class RerankResult(NamedTuple):
    """One rerank. ``order`` always covers the whole cache, so the feed can always be served.

    Which strategy produced the order: ``strategy`` is the one the caller asked for; ``served`` is
    the one whose order this is. They differ only on a fallback, where ``served`` is ``"server"``
    and ``fallback`` says why (``served == strategy`` and ``fallback is None`` otherwise)."""

    order: np.ndarray
    """int64 [n]: cache indices, best first (a permutation of ``range(n)``)."""
    strategy: str
    """The strategy asked for."""
    served: str
    """The strategy that produced ``order``: ``strategy``, or ``"server"`` on a fallback."""
    steps: int
    """Search steps the strategy took (0 on a fallback or for server, 1 for greedy)."""
    list_reward: float
    """The model's ListReward of the order, where the strategy computes it (else NaN)."""
    latency_us: float
    """Wall time of the whole call: build, validate, invoke, check."""
    fallback: FallbackReason | None
    """Why the server order was served, or None."""
    truncated: int
    """Cache entries beyond M_max, kept after the reranked ones in server order."""


def server_result(n: int, strategy: str, fallback: FallbackReason | None, t0: int, truncated: int = 0) -> RerankResult:
    return RerankResult(np.arange(n, dtype=np.int64), strategy, "server", 0, float("nan"),
                        (time.perf_counter_ns() - t0) / 1e3, fallback, truncated)


class Reranker:
    """Opens an artifact once; ``rerank`` never raises for bad data, a bad artifact or the
    interpreter. ``fallbacks`` counts the reasons; ``error`` says why the artifact is unusable."""

    def __init__(self, artifact_dir: str | Path | None, config: RerankerConfig | None = None) -> None:
        self.config = cfg = config or RerankerConfig()
        self.artifact_dir = None if artifact_dir is None else Path(artifact_dir)
        self.fallbacks: Counter[str] = Counter()
        self.manifest: dict | None = None
        self.error: FallbackReason | None = None
        self.error_message = ""
        self.dims = C.Dims()
        self.params = SearchParams()
        self._interpreters: dict[str, Any] = {}
        self._runners: dict[str, SignatureRunner] = {}
        if self.artifact_dir is None:
            self.error, self.error_message = FallbackReason.MISSING_MANIFEST, "no artifact given"
            return
        try:
            self.manifest = load_manifest(self.artifact_dir, check_hashes=cfg.check_hashes)
            check_signatures(self.manifest)
            self.dims = dims_of(self.manifest)
            p = SearchParams.from_manifest(self.manifest)
            self.params = SearchParams(
                p.alpha if cfg.alpha is None else cfg.alpha, p.beta if cfg.beta is None else cfg.beta,
                p.threshold if cfg.threshold is None else cfg.threshold, p.n_show, p.beam_size, p.l_max)
            self._open(MODEL)
        except ArtifactError as e:
            self.error, self.error_message = FallbackReason.of_artifact_error(e.reason), str(e)
        except Exception as e:  # a corrupt flatbuffer, an unreadable file, a malformed manifest
            self.error, self.error_message = FallbackReason.LOAD_ERROR, f"{type(e).__name__}: {e}"

    # -- artifact ---------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.error is None

    def _open(self, filename: str) -> Any:
        if filename not in self._interpreters:
            assert self.artifact_dir is not None
            self._interpreters[filename] = load_interpreter(
                self.artifact_dir / filename, reference=self.config.reference_kernels, threads=self.config.threads)
        return self._interpreters[filename]

    def runner(self, signature: str) -> SignatureRunner:
        """The cached runner of ``signature`` from model.tflite, or policy.tflite when listed."""
        if signature not in self._runners:
            files = [MODEL] + ([POLICY] if POLICY in (self.manifest or {}).get("files", {}) else [])
            for f in files:
                interp = self._open(f)
                if signature in interp.get_signature_list():
                    self._runners[signature] = SignatureRunner(interp, signature)
                    break
            else:
                raise KeyError(f"signature {signature!r} is in none of {files}")
        return self._runners[signature]

    # -- reranking --------------------------------------------------------------------------------
    def inputs_from_state(self, state: SessionState) -> RerankInputs:
        """The rerank inputs (contract tensors) from a session state: its history, the first M_max
        videos of its cache, its context."""
        h = state.history()
        if h.mask.shape[0] != self.dims.n_history:
            raise InvalidInput(FallbackReason.BAD_SHAPE,
                               f"`state.n_history` must be {self.dims.n_history} for this artifact, got {h.mask.shape[0]}")
        c: Candidates = build_candidates(video_dense(state.cache), video_ids(state.cache), self.dims.m_max)
        return {"hist_dense": h.dense, "hist_ids": h.ids, "hist_mask": h.mask, "cand_dense": c.dense,
                "cand_ids": c.ids, "cand_mask": c.mask, "context": state.context()}

    def rerank(self, state: SessionState, strategy: str = "adaptive_beam") -> RerankResult:
        """Rerank ``state``'s page cache. Never raises except for an unknown strategy name."""
        t0 = time.perf_counter_ns()
        strat = get_strategy(strategy)
        cache: RawVideos = state.cache
        n = len(cache)
        if not strat.signatures:  # the server order is what a fallback serves: nothing to check
            return server_result(n, strategy, None, t0, max(n - self.dims.m_max, 0))
        try:
            truncated = check_cache(cache, self.dims.m_max)
        except InvalidInput as e:
            return self._fallback(n, strategy, e.reason, t0)
        if self.error is not None:
            return self._fallback(n, strategy, self.error, t0, truncated)
        try:
            inputs, _ = check_inputs(self.inputs_from_state(state), self.dims)
        except InvalidInput as e:
            return self._fallback(n, strategy, e.reason, t0, truncated)
        except (ValueError, TypeError, IndexError):  # features that cannot be built at all
            return self._fallback(n, strategy, FallbackReason.BAD_SHAPE, t0, truncated)
        return self._run(strat, inputs, n, truncated, t0)

    def rerank_inputs(self, inputs: RerankInputs, strategy: str = "adaptive_beam") -> RerankResult:
        """Rerank contract tensors an app built itself (validated against the artifact's dims)."""
        t0 = time.perf_counter_ns()
        strat = get_strategy(strategy)
        mask = np.asarray(inputs.get("cand_mask", np.zeros(0)))
        n = int((mask > 0.5).sum()) if mask.ndim == 1 else 0
        try:
            checked, truncated = check_inputs(inputs, self.dims)
        except InvalidInput as e:
            return self._fallback(n, strategy, e.reason, t0)
        if not strat.signatures:
            return server_result(n, strategy, None, t0, truncated)
        if self.error is not None:
            return self._fallback(n, strategy, self.error, t0, truncated)
        return self._run(strat, checked, n, truncated, t0)

    #: the name this method had first (the tensors were called a "page"); kept for existing callers
    rerank_page = rerank_inputs

    def _run(self, strat, inputs: RerankInputs, n: int, truncated: int, t0: int) -> RerankResult:
        try:
            runners = {s: self.runner(s) for s in strat.signatures}
        except KeyError:
            return self._fallback(n, strat.name, FallbackReason.STRATEGY_UNAVAILABLE, t0, truncated)
        except Exception:
            return self._fallback(n, strat.name, FallbackReason.INTERPRETER_ERROR, t0, truncated)
        try:
            out = strat(runners, inputs, self.params)
        except Exception:  # the interpreter failed: the feed must go on
            return self._fallback(n, strat.name, FallbackReason.INTERPRETER_ERROR, t0, truncated)
        try:
            head = check_order(out.order, inputs["cand_mask"])
        except InvalidInput as e:
            return self._fallback(n, strat.name, e.reason, t0, truncated)
        order = np.concatenate([head, np.arange(head.size, n, dtype=np.int64)])
        return RerankResult(order, strat.name, strat.name, int(out.steps), float(out.list_reward),
                            (time.perf_counter_ns() - t0) / 1e3, None, truncated)

    def _fallback(self, n: int, strategy: str, reason: FallbackReason, t0: int, truncated: int = 0) -> RerankResult:
        self.fallbacks[reason.value] += 1
        return server_result(n, strategy, reason, t0, truncated)
