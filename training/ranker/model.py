"""The context-aware multi-task ranker (Keras 3): has_next, effective_view, like.

c(i) = (H, v_1..v_{i-1}, O) → item embeddings → target attention over the watch history and over
the placed prefix (masks respected) → MMoE (default) or shared bottom → one tower per task →
sigmoid.

The model is written as two stages so the exporter can hoist everything that does not depend on
the beam's prefix out of the search loop:

* ``encode`` (prefix-independent, once per rerank): candidate embeddings, each candidate's
  attention over the history, pXTR-minus-history crosses, context, and the candidates' query/key/
  value projections for prefix attention;
* ``head`` (prefix-dependent, once per beam step): attention of each candidate over its prefix
  (keys/values *gathered* from the candidates' precomputed projections), MMoE, towers.

``call`` (training) runs exactly ``encode`` then ``head`` on one target per row, so the exported
graph and the trained model compute the same function.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from keras import layers, ops

from device_runtime import contract as C


@dataclass(frozen=True)
class RankerConfig:
    """Architecture of a ranker. Presets: ``tiny`` (tests), ``small`` (default), ``kuaishou``."""

    dim: int = 32
    """D: width of item embeddings and candidate representations."""
    id_dim: int = 8
    """Embedding size of each id feature (topic, author); Kuaishou used 8."""
    heads: int = 4
    """Attention heads (history and prefix attention)."""
    head_dim: int = 8
    """Width of each attention head."""
    experts: int = 4
    """MMoE experts (0 = shared bottom)."""
    expert_hidden: tuple[int, ...] = (32,)
    """Hidden widths of each expert (or of the shared bottom); the last is the expert's output."""
    towers: tuple[int, ...] = (32, 16)
    """Hidden widths of each task tower (a final 1-unit sigmoid layer is added)."""
    use_context: bool = True
    """False = the no-context baseline: history and prefix attention (and crosses) are removed."""
    id_crosses: bool = True
    """Explicit crosses of the candidate's topic/author with each history slot (times that slot's
    feedback) and with each placed prefix item: repetition and intent as features rather than
    something attention must discover from embedding dot-products."""
    n_history: int = C.N_HISTORY_DEFAULT
    """N_h the model is built for."""
    prefix_len: int = C.L_MAX_DEFAULT - 1
    """L_max - 1: prefix slots the model is built for."""
    preset: str = "custom"
    """Name of the preset this config came from."""

    def to_json(self) -> dict:
        d = asdict(self)
        d["towers"] = list(self.towers)
        d["expert_hidden"] = list(self.expert_hidden)
        return d

    @staticmethod
    def from_json(d: dict) -> RankerConfig:
        d = dict(d)
        d["towers"] = tuple(d["towers"])
        d["expert_hidden"] = tuple(d["expert_hidden"])
        return RankerConfig(**d)


PRESETS: dict[str, RankerConfig] = {
    "tiny": RankerConfig(dim=16, id_dim=4, heads=2, head_dim=8, experts=2, expert_hidden=(16,),
                         towers=(16,), preset="tiny"),
    "small": RankerConfig(dim=64, id_dim=8, heads=4, head_dim=16, experts=6,
                          expert_hidden=(128, 64), towers=(64, 32), preset="small"),
    # Close to Kuaishou's CIKM 2022 model: attention 8 heads x 16, 12 experts ending in 64 units,
    # towers [128, 64, 32, 1]; about 1.3 M parameters.
    "kuaishou": RankerConfig(dim=128, id_dim=8, heads=8, head_dim=16, experts=12,
                             expert_hidden=(256, 64), towers=(128, 64, 32), preset="kuaishou"),
}


def preset(name: str, **overrides) -> RankerConfig:
    if name not in PRESETS:
        raise ValueError(f"`preset` must be one of {sorted(PRESETS)}, got {name!r}")
    from dataclasses import replace

    return replace(PRESETS[name], **overrides)


class MaskedAttention(layers.Layer):
    """Multi-head target attention with one query per row; exactly 0 output when all keys are
    masked. Query, key and value projections are exposed so keys/values of candidates can be
    computed once and gathered into prefixes."""

    def __init__(self, heads: int, head_dim: int, out_dim: int, **kw):
        super().__init__(**kw)
        self.heads, self.head_dim = heads, head_dim
        width = heads * head_dim
        self.q = layers.Dense(width, use_bias=False, name="q")
        self.k = layers.Dense(width, use_bias=False, name="k")
        self.v = layers.Dense(width, use_bias=False, name="v")
        self.out = layers.Dense(out_dim, name="out")

    def build(self, input_shape):
        """``input_shape``: shape of the items projected to queries, keys and values ([..., D]).
        Projections something else already built (``Ranker.build``) are left as they are."""
        for proj in (self.q, self.k, self.v):
            if not proj.built:
                proj.build(input_shape)
        if not self.out.built:
            self.out.build((*input_shape[:-1], self.heads * self.head_dim))

    def attend(self, q, k, v, mask):
        """q [R, H·dh], k/v [R, K, H·dh], mask [R, K] → [R, out_dim]."""
        h, dh = self.heads, self.head_dim
        n_keys = ops.shape(k)[1]
        qh = ops.reshape(q, (-1, h, 1, dh))
        kh = ops.transpose(ops.reshape(k, (-1, n_keys, h, dh)), (0, 2, 3, 1))  # [R, H, dh, K]
        vh = ops.transpose(ops.reshape(v, (-1, n_keys, h, dh)), (0, 2, 1, 3))  # [R, H, K, dh]
        logits = ops.matmul(qh, kh) * (1.0 / float(dh) ** 0.5)  # [R, H, 1, K]
        m = ops.reshape(mask, (-1, 1, 1, n_keys))
        # -1e4, not -1e9: the same zero weights in float32, and no inf (0·inf = NaN) when a
        # runtime computes an fp16 model in half precision (max 65504).
        weights = ops.softmax(logits + (m - 1.0) * 1e4, axis=-1) * m
        ctx = ops.reshape(ops.matmul(weights, vh), (-1, h * dh))  # [R, H·dh]
        return self.out(ctx)


def id_crosses(cand_ids, other_ids, weights):
    """cand_ids [R, N_IDS], other_ids [R, S, N_IDS], weights [R, S, F] → [R, S·N_IDS·F]: for every
    slot and id column, (candidate id == slot id) times each of the slot's F weights."""
    match = ops.cast(ops.equal(cand_ids[:, None, :], other_ids), "float32")  # [R, S, N_IDS]
    x = match[..., None] * weights[:, :, None, :]  # [R, S, N_IDS, F]
    s, n, f = other_ids.shape[1], other_ids.shape[2], weights.shape[2]
    return ops.reshape(x, (-1, s * n * f))


def _mlp(stack, x):
    for lay in stack:
        x = lay(x)
    return x


def _build_mlp(stack, width: int) -> None:
    """Build the Dense layers of ``stack`` for inputs [..., width], as ``_mlp`` would."""
    for lay in stack:
        lay.build((None, width))
        width = lay.units


class Ranker(keras.Model):
    """Multi-task ranker. Inputs of ``call`` are the contract's names, one target per row."""

    def __init__(self, config: RankerConfig, **kw):
        super().__init__(**kw)
        self.config = cfg = config
        d = cfg.dim
        self.topic_emb = layers.Embedding(C.ID_VOCAB["topic"], cfg.id_dim, name="topic_emb")
        self.author_emb = layers.Embedding(C.ID_VOCAB["author"], cfg.id_dim, name="author_emb")
        self.item_proj = layers.Dense(d, activation="relu", name="item_proj")
        self.feedback_proj = layers.Dense(d, name="feedback_proj")
        self.hist_attn = MaskedAttention(cfg.heads, cfg.head_dim, d, name="hist_attn")
        self.prefix_attn = MaskedAttention(cfg.heads, cfg.head_dim, d, name="prefix_attn")
        self.encoder = layers.Dense(d, activation="relu", name="encoder")
        n_exp = max(cfg.experts, 1)
        self.experts = [
            [layers.Dense(w, activation="relu", name=f"expert_{i}_{j}") for j, w in enumerate(cfg.expert_hidden)]
            for i in range(n_exp)
        ]
        self.gates = [layers.Dense(n_exp, activation="softmax", name=f"gate_{t}")
                      for t in C.TASKS] if cfg.experts > 0 else []
        self.towers = [
            [layers.Dense(w, activation="relu", name=f"tower_{t}_{j}") for j, w in enumerate(cfg.towers)]
            + [layers.Dense(1, activation="sigmoid", name=f"tower_{t}_out")]
            for t in C.TASKS
        ]

    def build(self, input_shape):
        """Create every weight ``call`` reads, in the order a first ``call`` would (the same
        initial values under a fixed seed). ``input_shape`` is ``input_shapes``' dict with a batch
        dimension. Layers the config does not use (no-context: the history path and the attention
        outputs) stay unbuilt, so weight files keep exactly the variables they always had.

        The attention projections are applied by this model's methods rather than through the
        ``MaskedAttention`` layers, so they are built here, in the ranker's name scope (their
        variable paths stay ``ranker/q/kernel`` …); each attention layer is then marked built."""
        cfg, d = self.config, self.config.dim
        width = cfg.heads * cfg.head_dim
        video = input_shape["cand_dense"][-1]
        n_ids = input_shape["cand_ids"][-1]
        n_hist, n_prefix = input_shape["hist_ids"][-2], input_shape["prefix_ids"][-2]
        n_feedback = input_shape["hist_dense"][-1] - video
        self.topic_emb.build()
        self.author_emb.build()
        self.item_proj.build((None, video + 2 * cfg.id_dim))
        enc_in = d + input_shape["context"][-1]
        if cfg.use_context:
            self.feedback_proj.build((None, n_feedback))
            attn = self.hist_attn
            for proj in (attn.k, attn.v, attn.q):
                proj.build((None, d))
            attn.out.build((None, width))
            attn.build((None, d))
            enc_in += d + 3 + (n_hist * n_ids * (1 + n_feedback) if cfg.id_crosses else 0)
        self.encoder.build((None, enc_in))
        for proj in (self.prefix_attn.q, self.prefix_attn.k, self.prefix_attn.v):
            proj.build((None, d))
        head_in = d
        if cfg.use_context:
            self.prefix_attn.out.build((None, width))
            self.prefix_attn.build((None, d))
            head_in += d + 1 + (n_prefix * n_ids if cfg.id_crosses else 0)
        for expert in self.experts:
            _build_mlp(expert, head_in)
        for i, tower in enumerate(self.towers):
            if self.gates:
                self.gates[i].build((None, head_in))
            _build_mlp(tower, cfg.expert_hidden[-1])
        super().build(input_shape)

    # -- stage 0: items ---------------------------------------------------------------------------
    def embed_items(self, dense, ids):
        """dense [..., N_VIDEO_DENSE], ids [..., N_IDS] → [..., D]."""
        x = ops.concatenate(
            [dense, self.topic_emb(ids[..., 0]), self.author_emb(ids[..., 1])], axis=-1
        )
        return self.item_proj(x)

    def embed_history(self, hist_dense, hist_ids):
        """[R, N_h, N_HIST_DENSE] → [R, N_h, D]: the video embedding plus the user's feedback."""
        video = self.embed_items(hist_dense[..., : C.N_VIDEO_DENSE], hist_ids)
        return video + self.feedback_proj(hist_dense[..., C.N_VIDEO_DENSE :])

    # -- stage 1: prefix-independent --------------------------------------------------------------
    def encode(self, hist_dense, hist_ids, hist_mask, cand_e, cand_dense, cand_ids, context):
        """Per-candidate representation [R, D]; every history/context input has R rows."""
        return self.encode_with(self.history_parts(hist_dense, hist_ids, hist_mask), hist_mask,
                                cand_e, cand_dense, cand_ids, context)

    def history_parts(self, hist_dense, hist_ids, hist_mask):
        """What the candidates need from the history, per row: attention keys and values
        [R, N_h, H·dh], the mean history pXTR [R, 3] and a has-history flag [R, 1]. The exporter
        computes these once per rerank (one row) and repeats them for every candidate."""
        if not self.config.use_context:
            return None
        h = self.embed_history(hist_dense, hist_ids)
        n = ops.maximum(ops.sum(hist_mask, axis=-1, keepdims=True), 1.0)
        hist_pxtr = ops.sum(hist_dense[..., :3] * hist_mask[..., None], axis=1) / n
        has_hist = ops.minimum(ops.sum(hist_mask, axis=-1, keepdims=True), 1.0)
        # per slot: [1, watch ratio, effective view, like, skip], zero on padding
        fb = ops.concatenate([ops.ones_like(hist_mask)[..., None], hist_dense[..., C.N_VIDEO_DENSE :]], axis=-1)
        return (self.hist_attn.k(h), self.hist_attn.v(h), hist_pxtr, has_hist, hist_ids,
                fb * hist_mask[..., None])

    def encode_with(self, parts_hist, hist_mask, cand_e, cand_dense, cand_ids, context):
        """``encode`` given ``history_parts`` (rows aligned with the candidates)."""
        parts = [cand_e, context]
        if self.config.use_context:
            hk, hv, hist_pxtr, has_hist, hist_ids, hist_fb = parts_hist
            att = self.hist_attn.attend(self.hist_attn.q(cand_e), hk, hv, hist_mask)
            parts += [att, (cand_dense[..., :3] - hist_pxtr) * has_hist]
            if self.config.id_crosses:
                parts.append(id_crosses(cand_ids, hist_ids, hist_fb))
        return self.encoder(ops.concatenate(parts, axis=-1))

    def prefix_projections(self, e):
        """Query/key/value projections of items for prefix attention: each [..., H·dh]."""
        return self.prefix_attn.q(e), self.prefix_attn.k(e), self.prefix_attn.v(e)

    # -- stage 2: prefix-dependent ----------------------------------------------------------------
    def head(self, cand_repr, cand_q, prefix_k, prefix_v, prefix_mask, prefix_cross):
        """cand_repr [R, D], cand_q [R, H·dh], prefix_k/v [R, P, H·dh], prefix_mask [R, P],
        prefix_cross [R, 2P] (``prefix_crosses``) → probabilities [R, 3] in the order of
        ``contract.TASKS``."""
        return ops.concatenate(
            self.head_outputs(cand_repr, cand_q, prefix_k, prefix_v, prefix_mask, prefix_cross), axis=-1)

    def prefix_crosses(self, cand_ids, prefix_ids, prefix_mask):
        """[R, 2P]: does the candidate share the topic / the author of each placed prefix item."""
        return id_crosses(cand_ids, prefix_ids, prefix_mask[..., None])

    def head_outputs(self, cand_repr, cand_q, prefix_k, prefix_v, prefix_mask, prefix_cross):
        """``head`` as one [R, 1] tensor per task (the exporter reshapes each separately)."""
        n_prefix = ops.sum(prefix_mask, axis=-1, keepdims=True) / float(self.config.prefix_len)
        parts = [cand_repr]
        if self.config.use_context:
            parts += [self.prefix_attn.attend(cand_q, prefix_k, prefix_v, prefix_mask), n_prefix]
            if self.config.id_crosses:
                parts.append(prefix_cross)
        x = ops.concatenate(parts, axis=-1)
        outs = []
        if self.config.experts > 0:
            expert_out = ops.stack([_mlp(e, x) for e in self.experts], axis=1)  # [R, E, hidden]
            for gate, tower in zip(self.gates, self.towers, strict=True):
                g = gate(x)[..., None]  # [R, E, 1]
                outs.append(_mlp(tower, ops.sum(expert_out * g, axis=1)))
        else:
            shared = _mlp(self.experts[0], x)
            outs = [_mlp(tower, shared) for tower in self.towers]
        return outs

    # -- training-time forward: one target per row ------------------------------------------------
    def call(self, inputs):
        cand_e = self.embed_items(inputs["cand_dense"], inputs["cand_ids"])
        repr_ = self.encode(inputs["hist_dense"], inputs["hist_ids"], inputs["hist_mask"], cand_e,
                            inputs["cand_dense"], inputs["cand_ids"], inputs["context"])
        q, _, _ = self.prefix_projections(cand_e)
        pe = self.embed_items(inputs["prefix_dense"], inputs["prefix_ids"])
        _, pk, pv = self.prefix_projections(pe)
        cross = self.prefix_crosses(inputs["cand_ids"], inputs["prefix_ids"], inputs["prefix_mask"])
        return self.head(repr_, q, pk, pv, inputs["prefix_mask"], cross)


INPUT_NAMES = ("hist_dense", "hist_ids", "hist_mask", "prefix_dense", "prefix_ids", "prefix_mask",
               "cand_dense", "cand_ids", "context")


def input_shapes(cfg: RankerConfig) -> dict[str, tuple[tuple[int, ...], str]]:
    """Per-row shapes and dtypes of ``call``'s inputs (without the batch dimension)."""
    return {
        "hist_dense": ((cfg.n_history, C.N_HIST_DENSE), "float32"),
        "hist_ids": ((cfg.n_history, C.N_IDS), "int32"),
        "hist_mask": ((cfg.n_history,), "float32"),
        "prefix_dense": ((cfg.prefix_len, C.N_VIDEO_DENSE), "float32"),
        "prefix_ids": ((cfg.prefix_len, C.N_IDS), "int32"),
        "prefix_mask": ((cfg.prefix_len,), "float32"),
        "cand_dense": ((C.N_VIDEO_DENSE,), "float32"),
        "cand_ids": ((C.N_IDS,), "int32"),
        "context": ((C.N_CONTEXT,), "float32"),
    }


def build_ranker(cfg: RankerConfig) -> Ranker:
    """A built ranker (weights created) for ``cfg``."""
    import numpy as np

    model = Ranker(cfg)
    dummy = {n: np.zeros((1, *s), dtype=dt) for n, (s, dt) in input_shapes(cfg).items()}
    model(dummy)
    return model


CONFIG_FILE = "ranker_config.json"
WEIGHTS_FILE = "ranker.weights.h5"


def save_ranker(model: Ranker, out_dir: str | Path, extra: dict | None = None) -> None:
    """Write the config and the weights; ``load_ranker`` rebuilds an identical model."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"config": model.config.to_json(), "schema_version": C.SCHEMA_VERSION, **(extra or {})}
    (out / CONFIG_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True))
    model.save_weights(out / WEIGHTS_FILE)


def load_ranker(run_dir: str | Path) -> tuple[Ranker, dict]:
    run = Path(run_dir)
    cfg_path = run / CONFIG_FILE
    if not cfg_path.exists():
        raise FileNotFoundError(f"{run} holds no trained ranker ({CONFIG_FILE} missing)")
    payload = json.loads(cfg_path.read_text())
    if payload.get("schema_version") != C.SCHEMA_VERSION:
        raise ValueError(f"{run} was trained on schema {payload.get('schema_version')!r}, "
                         f"this toolkit uses {C.SCHEMA_VERSION!r}")
    model = build_ranker(RankerConfig.from_json(payload["config"]))
    model.load_weights(run / WEIGHTS_FILE)
    return model, payload


__all__ = ["RankerConfig", "Ranker", "PRESETS", "preset", "build_ranker", "save_ranker",
           "load_ranker", "INPUT_NAMES", "input_shapes"]
