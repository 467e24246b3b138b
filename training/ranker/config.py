"""The ranker's run configuration, TensorFlow-free so the command line can read its defaults (the
one source of truth: ``reelrank train-ranker`` takes every default from here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from device_runtime import contract as C
from training.ranker.logistic import LogisticConfig


@dataclass(frozen=True)
class RMTLConfig:
    """Critics and weights of RMTL."""

    lam: float = 0.7
    """λ in ω = 1 - λ·Q."""
    beta: float = 0.2
    """Soft target update rate: θ' ← β θ + (1 - β) θ'."""
    gamma: float = 0.9
    """Discount of the session MDP."""
    critic_hidden: tuple[int, ...] = (32, 16)
    """Hidden widths of each task's critic MLP."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critics."""


@dataclass(frozen=True)
class TrainConfig:
    """How a ranker is trained."""

    epochs: int = 4
    """Passes over the training rows."""
    batch_size: int = 1024
    """Rows per Adam step (Kuaishou: 1024). The last partial batch of an epoch is dropped."""
    learning_rate: float = 1e-3
    """Adam learning rate (Kuaishou: 1e-3)."""
    task_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Weight of each task's BCE, in the order of ``contract.TASKS``."""
    rmtl: bool = False
    """Multiply the task weights by RMTL's per-session ω from per-task critics."""
    rmtl_config: RMTLConfig = field(default_factory=RMTLConfig)
    """RMTL's λ, β, γ and critics (used when ``rmtl``)."""
    seed: int = 0
    """Seed of weight initialisation and batch order."""
    eval_batch: int = 8192
    """Rows per inference call when predicting."""
    progress: bool = True
    """Show a progress bar per epoch."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, got {getattr(self, name)}")
        if len(self.task_weights) != len(C.TASKS) or min(self.task_weights) < 0:
            raise ValueError(f"`task_weights` must be {len(C.TASKS)} non-negative numbers "
                             f"({', '.join(C.TASKS)}), got {self.task_weights}")

    def to_json(self) -> dict:
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "task_weights": list(self.task_weights),
                "rmtl": self.rmtl, "seed": self.seed,
                **({"rmtl_config": {"lam": self.rmtl_config.lam, "beta": self.rmtl_config.beta,
                                    "gamma": self.rmtl_config.gamma}} if self.rmtl else {})}


@dataclass(frozen=True)
class RunConfig:
    """What a `train-ranker` run trains and how it splits the data."""

    preset: str = "small"
    """Ranker preset: tiny, small or kuaishou (``training.ranker.model.PRESETS``)."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Training of the ranker; the no-context baseline is trained with the same settings."""
    valid_fraction: float = 0.1
    """Share of users held out for choosing the best epoch."""
    test_fraction: float = 0.2
    """Share of users held out for the reported metrics."""
    split_seed: int = 0
    """Seed of the user split."""
    baselines: bool = True
    """Also train the no-context network and the logistic regression (False: throughput runs)."""
    logistic: LogisticConfig = field(default_factory=LogisticConfig)
    """Fit of the logistic-regression baseline."""
