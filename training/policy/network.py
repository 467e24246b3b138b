"""The compact policy network that ships in ``policy.tflite`` (HAC-style; Liu et al., WWW 2023).

    state encoder   history (video features + feedback + topic/author embeddings + recency)
                    → masked attention pooling (query from the context) and a masked mean
                    → MLP with the context → state s ∈ R^d
    hyper-action    Z = W_z s ∈ R^d
    item kernel     Φ(i) = W_φ [dense_i, E_topic(i), E_author(i)]   (a linear map, as in the paper)
    score           score(i) = Φ(i)·Z; the effect action is the top-n of the valid candidates
    responses       logit_k(i) = u_kᵀ(Φ(i) ⊙ Z) + b_k for k ∈ (effective_view, like) — the heads of
                    L_BCE, and the ranking score of the supervised baseline (``score_mode``
                    "responses": α·σ(logit_ev) + β·σ(logit_like))

Every algorithm (HAC, DDPG, supervised, REINFORCE) trains this same network, so the exporter
(``export/policy_export.py``) has one thing to freeze. Inputs are the contract's page tensors with
a leading batch dimension; ``call`` returns the ``policy_rerank`` outputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from keras import layers, ops

from device_runtime import contract as C

#: masked slots get this subtracted before ranking (far below any finite score)
MASK_OFFSET = 1.0e9
SCORE_MODES = ("latent", "responses")


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture of the compact policy."""

    dim: int = 32
    """d: width of the state, the hyper-action Z and the item kernel Φ."""
    hidden: int = 32
    """Width of the history item encoder and of the state MLP."""
    id_dim: int = 8
    """Embedding size of each id feature (topic, author)."""
    score_mode: str = "latent"
    """latent: score = Φ·Z (the RL policies); responses: α·σ(ev) + β·σ(like) (supervised)."""
    alpha: float = C.DEFAULT_RERANK_PARAMS["alpha"]
    """Weight of p_effective_view in the ``responses`` score."""
    beta: float = C.DEFAULT_RERANK_PARAMS["beta"]
    """Weight of p_like in the ``responses`` score."""
    n_history: int = C.N_HISTORY_DEFAULT
    """N_h the network is built for."""
    m_max: int = C.M_MAX_DEFAULT
    """M_max the network is built for."""

    def __post_init__(self) -> None:
        if self.score_mode not in SCORE_MODES:
            raise ValueError(f"`score_mode` must be one of {SCORE_MODES}, got {self.score_mode!r}")
        for name in ("dim", "hidden", "id_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, got {getattr(self, name)}")

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> PolicyConfig:
        return PolicyConfig(**d)


class PolicyNetwork(keras.Model):
    """The shipped policy. Sub-steps are methods so the trainers can reach s, Z and Φ."""

    def __init__(self, config: PolicyConfig, **kw):
        super().__init__(**kw)
        self.config = cfg = config
        self.topic_emb = layers.Embedding(C.ID_VOCAB["topic"], cfg.id_dim, name="topic_emb")
        self.author_emb = layers.Embedding(C.ID_VOCAB["author"], cfg.id_dim, name="author_emb")
        self.hist_item = layers.Dense(cfg.hidden, activation="relu", name="hist_item")
        self.recency = layers.Embedding(cfg.n_history, cfg.hidden, name="recency")
        self.query = layers.Dense(cfg.hidden, name="query")
        self.state_mlp = layers.Dense(cfg.hidden, activation="relu", name="state_mlp")
        self.state_out = layers.Dense(cfg.dim, name="state_out")
        self.hyper = layers.Dense(cfg.dim, name="hyper")
        self.kernel = layers.Dense(cfg.dim, name="item_kernel")
        self.response = layers.Dense(2, name="response")

    def build(self, input_shape):
        """Create every weight (the response heads too, used by L_BCE and the ``responses`` score
        mode) in the order of a first ``forward`` then ``response_logits``. ``input_shape`` is
        ``input_shapes``' dict with a batch dimension."""
        cfg = self.config
        self.topic_emb.build()
        self.author_emb.build()
        self.hist_item.build((None, input_shape["hist_dense"][-1] + 2 * cfg.id_dim))
        self.recency.build()
        n_context = input_shape["context"][-1]
        self.query.build((None, n_context))
        self.state_mlp.build((None, 2 * cfg.hidden + n_context + 1))
        self.state_out.build((None, cfg.hidden))
        self.hyper.build((None, cfg.dim))
        self.kernel.build((None, input_shape["cand_dense"][-1] + 2 * cfg.id_dim))
        self.response.build((None, cfg.dim))
        super().build(input_shape)

    # -- state encoder -----------------------------------------------------------------------------
    def encode_state(self, hist_dense, hist_ids, hist_mask, context):
        """[B, N_h, ...] history and [B, N_CONTEXT] context → s [B, d]."""
        n_h = self.config.n_history
        x = ops.concatenate([hist_dense, self.topic_emb(hist_ids[..., 0]), self.author_emb(hist_ids[..., 1])], -1)
        h = self.hist_item(x) + self.recency(ops.arange(n_h))[None]  # [B, N_h, hidden]
        q = self.query(context)  # [B, hidden]
        logits = ops.sum(h * q[:, None, :], axis=-1) * (1.0 / float(self.config.hidden) ** 0.5)
        # -1e4, not -1e9: zero weight in float32 and no inf (0·inf = NaN) in half precision
        w = ops.softmax(logits + (hist_mask - 1.0) * 1.0e4, axis=-1) * hist_mask  # all masked → 0
        pooled = ops.sum(h * w[..., None], axis=1)
        count = ops.sum(hist_mask, axis=-1, keepdims=True)
        mean = ops.sum(h * hist_mask[..., None], axis=1) / ops.maximum(count, 1.0)
        feats = ops.concatenate([pooled, mean, context, count * (1.0 / float(n_h))], axis=-1)
        return self.state_out(self.state_mlp(feats))

    def hyper_action(self, s):
        """Z [B, d]."""
        return self.hyper(s)

    def item_kernel(self, cand_dense, cand_ids):
        """Φ [B, M, d] (a linear map of the candidate's features)."""
        x = ops.concatenate([cand_dense, self.topic_emb(cand_ids[..., 0]), self.author_emb(cand_ids[..., 1])], -1)
        return self.kernel(x)

    def response_logits(self, phi, z):
        """[B, M, 2]: logits of (effective_view, like) of each candidate."""
        return self.response(phi * z[:, None, :])

    def latent_scores(self, phi, z):
        """Φ·Z: [B, M]."""
        return ops.sum(phi * z[:, None, :], axis=-1)

    def ranking_scores(self, phi, z):
        """The score the effect action ranks by (``score_mode``)."""
        if self.config.score_mode == "latent":
            return self.latent_scores(phi, z)
        p = ops.sigmoid(self.response_logits(phi, z))
        return self.config.alpha * p[..., 0] + self.config.beta * p[..., 1]

    def forward(self, inputs):
        """(s, Z, Φ) of a batch of observations."""
        s = self.encode_state(inputs["hist_dense"], inputs["hist_ids"], inputs["hist_mask"], inputs["context"])
        return s, self.hyper_action(s), self.item_kernel(inputs["cand_dense"], inputs["cand_ids"])

    def call(self, inputs):
        """The ``policy_rerank`` outputs: scores [B, M] (0 on padding) and order [B, M] (valid
        slots best first, ties toward the lower index, then -1)."""
        _, z, phi = self.forward(inputs)
        return rank_outputs(self.ranking_scores(phi, z), inputs["cand_mask"])


def rank_outputs(scores, cand_mask) -> dict:
    """Masked scores and the descending order of the valid slots (padding → -1)."""
    m = ops.shape(scores)[-1]
    valid = ops.cast(cand_mask > 0.5, "float32")
    scores = scores * valid
    _, idx = ops.top_k(scores - (1.0 - valid) * MASK_OFFSET, k=m, sorted=True)
    rank = ops.arange(m)[None, :]
    n_valid = ops.cast(ops.sum(valid, axis=-1, keepdims=True), "int32")
    order = ops.where(rank < n_valid, ops.cast(idx, "int32"), -1)
    return {"scores": scores, "order": order}


def input_shapes(cfg: PolicyConfig) -> dict[str, tuple[tuple[int, ...], str]]:
    """Per-row shapes and dtypes of the inputs (the ``policy_rerank`` signature's)."""
    d = C.Dims(n_history=cfg.n_history, m_max=cfg.m_max)
    return {s.name: (s.shape, s.dtype) for s in C.policy_inputs(d)}


def build_policy(cfg: PolicyConfig) -> PolicyNetwork:
    """A built policy network (weights created) for ``cfg``."""
    import numpy as np

    model = PolicyNetwork(cfg)
    dummy = {n: np.zeros((1, *s), dtype=dt) for n, (s, dt) in input_shapes(cfg).items()}
    model(dummy)  # ``build`` creates the response heads too, whatever the score mode
    return model


CONFIG_FILE = "policy_config.json"
WEIGHTS_FILE = "policy.weights.h5"


def save_policy(model: PolicyNetwork, out_dir: str | Path, extra: dict | None = None) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"config": model.config.to_json(), "schema_version": C.SCHEMA_VERSION, **(extra or {})}
    (out / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
    model.save_weights(out / WEIGHTS_FILE)


def load_policy(run_dir: str | Path) -> tuple[PolicyNetwork, dict]:
    run = Path(run_dir)
    path = run / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"`policy` must be a train-policy run directory with {CONFIG_FILE}, "
                                f"got {run} without it")
    payload = json.loads(path.read_text())
    if payload.get("schema_version") != C.SCHEMA_VERSION:
        raise ValueError(f"{run} was trained on schema {payload.get('schema_version')!r}, "
                         f"this toolkit uses {C.SCHEMA_VERSION!r}")
    model = build_policy(PolicyConfig.from_json(payload["config"]))
    model.load_weights(run / WEIGHTS_FILE)
    return model, payload
