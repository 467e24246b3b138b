"""Training curves (PNG): loss per epoch and validation AUC per task, one line per model."""

from __future__ import annotations

from pathlib import Path

from device_runtime import contract as C


def plot_curves(histories: dict[str, dict[str, list[float]]], path: str | Path) -> Path:
    """``histories``: {model name: FitResult.history}; writes a 1 x 4 panel figure to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(C.TASKS), figsize=(4.2 * (1 + len(C.TASKS)), 3.4))
    for name, h in histories.items():
        epochs = range(1, len(h["loss/train"]) + 1)
        line = axes[0].plot(epochs, h["loss/train"], label=f"{name} train")[0]
        axes[0].plot(epochs, h["loss/valid"], "--", color=line.get_color(), label=f"{name} valid")
        for ax, task in zip(axes[1:], C.TASKS, strict=True):
            ax.plot(epochs, h[f"auc/valid_{task}"], marker="o", color=line.get_color(), label=name)
    axes[0].set_title("weighted BCE")
    axes[0].legend(fontsize=7)
    for ax, task in zip(axes[1:], C.TASKS, strict=True):
        ax.set_title(f"valid AUC: {task}")
        ax.legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
