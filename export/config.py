"""What ``reelrank export`` writes, TensorFlow-free so the command line can read its defaults (the
one source of truth: the CLI takes every default from here)."""

from __future__ import annotations

from dataclasses import dataclass

from device_runtime import contract as C


@dataclass(frozen=True)
class ExportConfig:
    """What to export."""

    max_candidates: int = C.M_MAX_DEFAULT
    """M_max: candidate slots per rerank."""
    beam_size: int = C.BEAM_SIZE_DEFAULT
    """k: beams kept per step (1 = greedy)."""
    max_steps: int = C.L_MAX_DEFAULT
    """L_max: maximum search steps."""
    quantize: str = "none"
    """none | fp16 | dynamic-int8."""
    onnx: bool = False
    """Also write model.onnx (rerank signature)."""
    sample_pages: int = 128
    """Pages of real simulated sessions stored in sample_inputs.npz (>= 64)."""
    world_seed: int = 0
    """World the sample pages come from."""
    seed: int = 2024
    """Run seed of the sample sessions (kept apart from training seeds)."""
    alpha: float = C.DEFAULT_RERANK_PARAMS["alpha"]
    """Default ListReward weight of p_effective_view."""
    beta: float = C.DEFAULT_RERANK_PARAMS["beta"]
    """Default ListReward weight of p_like."""
    threshold: float = C.DEFAULT_RERANK_PARAMS["threshold"]
    """Default stability threshold t."""
    n_show: int = C.DEFAULT_RERANK_PARAMS["n_show"]
    """Default minimum steps n before stopping (1 for an immersive feed)."""

    def __post_init__(self) -> None:
        if self.sample_pages < 64:
            raise ValueError(f"`sample_pages` must be >= 64, got {self.sample_pages}")
        if self.beam_size < 1:
            raise ValueError(f"`beam_size` must be >= 1, got {self.beam_size}")
