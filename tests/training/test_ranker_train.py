"""The training loop, RMTL's critics and the data-source wiring (tiny budgets)."""

import sys
import types

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from device_runtime import contract as C  # noqa: E402
from training.data.synthetic_logs import LogConfig, simulate_logs  # noqa: E402
from training.ranker.inputs import ranker_data  # noqa: E402
from training.ranker.model import build_ranker, preset  # noqa: E402
from training.ranker.rmtl import RMTLConfig, TaskCritics  # noqa: E402
from training.ranker.sources import load_source  # noqa: E402
from training.ranker.split import split_by_user  # noqa: E402
from training.ranker.train import TrainConfig, fit, predict  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return ranker_data(simulate_logs(LogConfig(sessions=40, seed=4), progress=False))


@pytest.mark.parametrize("rmtl", [False, True])
def test_fit_lowers_the_loss_and_keeps_the_best_epoch(data, rmtl):
    parts = split_by_user(data.user_id, 0.2, 0.2, seed=0)
    keras.utils.set_random_seed(0)
    model = build_ranker(preset("tiny"))
    cfg = TrainConfig(epochs=3, batch_size=128, learning_rate=3e-3, rmtl=rmtl, progress=False)
    result = fit(model, data.take(parts.train), data.take(parts.valid), cfg)
    h = result.history
    assert h["loss/train"][-1] < h["loss/train"][0]
    assert 1 <= result.best_epoch <= 3
    assert h["loss/valid"][result.best_epoch - 1] == min(h["loss/valid"])
    # the model holds the best epoch's weights: its validation loss is the best one logged
    p = predict(model, data.take(parts.valid).inputs)
    y = data.take(parts.valid).labels
    bce = -np.mean(y * np.log(np.clip(p, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-7, 1)), axis=0)
    assert float(bce.sum()) == pytest.approx(min(h["loss/valid"]), rel=1e-4)
    assert result.impressions_per_s > 0
    if rmtl:
        for t in C.TASKS:
            assert np.all(np.isfinite(h[f"losses/td_{t}"])) and min(h[f"charts/omega_{t}"]) > 0


def test_train_config_names_bad_arguments():
    with pytest.raises(ValueError, match="`task_weights` must be 3 non-negative numbers"):
        TrainConfig(task_weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="`epochs` must be >= 1, got 0"):
        TrainConfig(epochs=0)


def test_critics_learn_the_discounted_reward_and_raise_omega():
    # Every transition is terminal with BCE 1.0 for every task: reward -1, so Q -> -1 and
    # omega = 1 - 0.7 * (-1) = 1.7.
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    critics = TaskCritics(RMTLConfig(critic_lr=1e-2), state_dim=4)
    s = tf.constant(np.random.default_rng(0).normal(size=(64, 4)), tf.float32)
    a = tf.fill((64, 3), 0.5)
    bce = tf.ones((64, 3))
    update = tf.function(critics.update)
    for _ in range(300):
        update(s, a, bce, s, a, tf.ones(64))
    np.testing.assert_allclose(critics.omega(s, a).numpy(), 1.7, atol=0.05)


def test_target_critics_follow_with_soft_update_beta():
    import tensorflow as tf

    critics = TaskCritics(RMTLConfig(beta=0.2), state_dim=3)
    before = [w.numpy().copy() for w in critics.targets[0].weights]
    s = tf.ones((8, 3))
    critics.update(s, tf.fill((8, 3), 0.3), tf.ones((8, 3)), s, tf.fill((8, 3), 0.3), tf.zeros(8))
    online = [w.numpy() for w in critics.critics[0].weights]
    for b, o, t in zip(before, online, critics.targets[0].weights, strict=True):
        np.testing.assert_allclose(t.numpy(), 0.2 * o + 0.8 * b, atol=1e-6)


def test_load_source_wires_kuairand_and_names_bad_specs(monkeypatch):
    logs = simulate_logs(LogConfig(sessions=3, seed=1), progress=False)
    fake = types.ModuleType("training.data.kuairand")
    fake.load_kuairand = lambda path: (logs, {"path_seen": path})
    monkeypatch.setitem(sys.modules, "training.data.kuairand", fake)
    arrays, source = load_source(data="kuairand:/data/KuaiRand-1K")
    assert arrays is logs and source["report"] == {"path_seen": "/data/KuaiRand-1K"}
    with pytest.raises(ValueError, match="`data` must be one of \\['kuairand:PATH'\\], got 'movielens:/x'"):
        load_source(data="movielens:/x")
    with pytest.raises(ValueError, match="exactly one of `logs`"):
        load_source()
