"""The ranker network: parameter budgets, masks, save/load round trip and a golden batch.

Regenerate the golden file (after a deliberate change of the network's math) with
``python -m tests.training.test_ranker_model``.
"""

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.ranker.model import (  # noqa: E402
    INPUT_NAMES,
    build_ranker,
    input_shapes,
    load_ranker,
    preset,
    save_ranker,
)
from training.ranker.train import predict  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ranker_tiny.npz"
#: Largest |prediction − golden| accepted (float32 kernels may reorder sums across CPUs/versions).
GOLDEN_ATOL = 1e-5
#: Largest |reloaded − saved| prediction accepted.
RELOAD_ATOL = 1e-6


def _random_weights(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])


def _golden_batch() -> dict[str, np.ndarray]:
    from training.data.synthetic_logs import LogConfig, simulate_logs
    from training.ranker.inputs import ranker_data

    data = ranker_data(simulate_logs(LogConfig(sessions=4, seed=21), progress=False))
    rows = np.linspace(0, data.n - 1, 24).astype(int)
    return data.batch(rows)


def make_golden() -> None:
    model = build_ranker(preset("tiny"))
    _random_weights(model, 1234)
    batch = _golden_batch()
    probs = predict(model, batch)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN, probs=probs, **{f"in_{k}": v for k, v in batch.items()})


def test_presets_meet_their_parameter_budgets():
    counts = {n: build_ranker(preset(n)).count_params() for n in ("tiny", "small", "kuaishou")}
    assert counts["tiny"] <= 50_000
    assert counts["small"] <= 300_000
    assert 1.1e6 <= counts["kuaishou"] <= 1.5e6  # paper: 1.32 M


def test_masked_history_and_prefix_are_ignored():
    model = build_ranker(preset("tiny"))
    _random_weights(model, 3)
    rng = np.random.default_rng(0)
    shapes = input_shapes(model.config)
    x = {n: (rng.integers(1, 60, (5, *s)).astype(dt) if dt == "int32" else rng.random((5, *s)).astype(dt))
         for n, (s, dt) in shapes.items()}
    x["hist_mask"][:, 4:] = 0.0
    x["prefix_mask"][:, 2:] = 0.0
    y = x.copy()
    y["hist_dense"] = x["hist_dense"].copy()
    y["hist_dense"][:, 4:] = 9.0  # change only masked slots
    y["prefix_ids"] = x["prefix_ids"].copy()
    y["prefix_ids"][:, 2:] = 7
    np.testing.assert_allclose(predict(model, x), predict(model, y), atol=1e-6)
    y["hist_dense"][:, 0] += 1.0  # an unmasked slot does matter
    assert np.abs(predict(model, x) - predict(model, y)).max() > 1e-4


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    model = build_ranker(preset("tiny"))
    _random_weights(model, 7)
    batch = _golden_batch()
    save_ranker(model, tmp_path / "run", {"note": "test"})
    back, payload = load_ranker(tmp_path / "run")
    assert back.config == model.config and payload["note"] == "test"
    np.testing.assert_allclose(predict(back, batch), predict(model, batch), atol=RELOAD_ATOL, rtol=0)


def test_golden_predictions():
    with np.load(GOLDEN) as g:
        batch = {k: g[f"in_{k}"] for k in INPUT_NAMES}
        expected = g["probs"]
    model = build_ranker(preset("tiny"))
    _random_weights(model, 1234)
    assert expected.shape == (24, 3)
    np.testing.assert_allclose(predict(model, batch), expected, atol=GOLDEN_ATOL, rtol=0)


if __name__ == "__main__":
    make_golden()
    print(f"wrote {GOLDEN}")
