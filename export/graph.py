"""The exported functions: ``score`` and ``rerank`` (adaptive beam search as one fixed-shape
``tf.while_loop``), written over a trained ``Ranker``'s two stages.

Hoisting: candidate embeddings, each candidate's attention over the history, the pXTR crosses,
the context and the candidates' prefix-attention projections (q, k, v) are computed once per
rerank, before the loop. Inside the loop only the prefix-dependent head runs, on k·M rows, with the
prefix keys/values *gathered* from the candidates' precomputed projections.

Every loop-carried tensor has a fixed shape (XNNPACK refuses dynamic tensors; a growing state
fails at invoke): ``placed`` int32 [k, L] with -1 for empty, ``used`` float32 [k, M], LRs and
survivals [k], a ``live`` mask [k] (fewer than k extensions exist early on), and ``done``.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from device_runtime import contract as C

#: A finite "minus infinity" for masked extensions. It must survive fp16: tflite-runtime's XNNPACK
#: computes fp16-weight models in half precision (max 65504), where -3e38 overflows. ListRewards
#: are bounded by L_max·(|α| + |β|), far inside ±1e4 for any sensible α, β.
NEG = -1.0e4


@dataclass(frozen=True)
class SearchConfig:
    """Sizes fixed at export."""

    dims: C.Dims
    """N_h, M_max, L_max."""
    beam_size: int = C.BEAM_SIZE_DEFAULT
    """k: beams kept per step (1 = greedy)."""


def _tile_rows(x, n):
    """[...] → [n, ...] (one copy per row)."""
    return tf.tile(x[None], [n] + [1] * len(x.shape))


def make_functions(model, search: SearchConfig):
    """Returns (score_fn, rerank_fn) taking the contract's named tensors (unbatched)."""
    d = search.dims
    m, k, plen = d.m_max, search.beam_size, d.prefix_len
    n_steps_max = d.l_max
    model_plen = model.config.prefix_len
    if plen > model_plen:
        raise ValueError(f"`max_steps` must be <= the ranker's L_max = {model_plen + 1}, got {n_steps_max}")
    if k > m:
        raise ValueError(f"`beam_size` must be <= `max_candidates` = {m}, got {k}")

    def prefix_crosses(cand_ids, prefix_ids, prefix_mask):
        """The model's prefix crosses over this export's P slots, padded with empty slots up to
        the P the ranker was trained with (an empty slot contributes exactly zeros)."""
        cross = model.prefix_crosses(cand_ids, prefix_ids, prefix_mask)
        if plen == model_plen:
            return cross
        return tf.concat([cross, tf.zeros([tf.shape(cross)[0], (model_plen - plen) * C.N_IDS])], axis=1)

    def _encode(hist_dense, hist_ids, hist_mask, cand_dense, cand_ids, context):
        cand_e = model.embed_items(cand_dense, cand_ids)  # [M, D]
        # the history is embedded and projected once (one row), then repeated for the M candidates
        parts = model.history_parts(hist_dense[None], hist_ids[None], hist_mask[None])
        if parts is not None:
            parts = tuple(tf.tile(x, [m] + [1] * (len(x.shape) - 1)) for x in parts)
        repr_ = model.encode_with(parts, _tile_rows(hist_mask, m), cand_e, cand_dense, cand_ids,
                                  _tile_rows(context, m))
        q, kk, vv = model.prefix_projections(cand_e)
        return repr_, q, kk, vv

    def score(hist_dense, hist_ids, hist_mask, prefix_dense, prefix_ids, prefix_mask,
              cand_dense, cand_ids, cand_mask, context):
        repr_, q, _, _ = _encode(hist_dense, hist_ids, hist_mask, cand_dense, cand_ids, context)
        pm = prefix_mask
        pe = model.embed_items(prefix_dense * pm[:, None], prefix_ids * tf.cast(pm[:, None], tf.int32))
        _, pk, pv = model.prefix_projections(pe)  # [P, HD]
        pid = _tile_rows(prefix_ids * tf.cast(pm[:, None], tf.int32), m)
        cross = prefix_crosses(cand_ids, pid, _tile_rows(pm, m))
        probs = model.head(repr_, q, _tile_rows(pk, m), _tile_rows(pv, m), _tile_rows(pm, m), cross)
        probs = probs * cand_mask[:, None]
        return {
            "p_has_next": probs[:, 0],
            "p_effective_view": probs[:, 1],
            "p_like": probs[:, 2],
        }

    def rerank(hist_dense, hist_ids, hist_mask, cand_dense, cand_ids, cand_mask, context,
               alpha, beta, threshold, n_show):
        repr_, q, kk, vv = _encode(hist_dense, hist_ids, hist_mask, cand_dense, cand_ids, context)
        # zero-feature candidate rows, used for empty prefix slots, exactly as `score` sees them
        zero_e = model.embed_items(tf.zeros([1, C.N_VIDEO_DENSE]), tf.zeros([1, C.N_IDS], tf.int32))
        _, k0, v0 = model.prefix_projections(zero_e)
        kk_ext = tf.concat([kk, k0], 0)  # row M = the padding row
        vv_ext = tf.concat([vv, v0], 0)
        ids_ext = tf.concat([cand_ids, tf.zeros([1, C.N_IDS], tf.int32)], 0)
        ids_rows = tf.tile(cand_ids, [k, 1])
        repr_rows = tf.tile(repr_, [k, 1])  # row b*M + j = candidate j under beam b
        q_rows = tf.tile(q, [k, 1])
        cmask = cand_mask > 0.5
        n_valid = tf.reduce_sum(tf.cast(cmask, tf.int32))
        ar_k = tf.range(k)
        ar_p = tf.range(plen)
        ar_l = tf.range(n_steps_max)

        def body(t, placed, used, lr, surv, live, done):
            slot = tf.where(ar_p[None, :] < t, placed[:, :plen], m)  # [k, P]; M = padding row
            pmask = tf.cast(ar_p < t, tf.float32)  # [P]
            pk = tf.gather(kk_ext, slot)  # [k, P, HD]
            pv = tf.gather(vv_ext, slot)
            hd = pk.shape[-1]
            pk_rows = tf.reshape(tf.tile(pk[:, None], [1, m, 1, 1]), [k * m, plen, hd])
            pv_rows = tf.reshape(tf.tile(pv[:, None], [1, m, 1, 1]), [k * m, plen, hd])
            pm_rows = tf.tile(pmask[None, :], [k * m, 1])
            pid = tf.gather(ids_ext, slot)  # [k, P, N_IDS]
            pid_rows = tf.reshape(tf.tile(pid[:, None], [1, m, 1, 1]), [k * m, plen, C.N_IDS])
            cross = prefix_crosses(ids_rows, pid_rows, pm_rows)
            p_hn, p_ev, p_like = (tf.reshape(o, [k, m]) for o in
                                  model.head_outputs(repr_rows, q_rows, pk_rows, pv_rows, pm_rows, cross))
            gain = alpha * p_ev + beta * p_like
            ext = lr[:, None] + surv[:, None] * gain
            valid = live[:, None] & cmask[None, :] & (used < 0.5)
            flat = tf.reshape(tf.where(valid, ext, tf.fill([k, m], NEG)), [-1])
            vals, idx = tf.math.top_k(flat, k)  # ties → lower flat index (checked in every runtime)
            new_live = ar_k < tf.reduce_sum(tf.cast(valid, tf.int32))
            parent, cand = idx // m, idx % m
            new_placed = tf.where((ar_l == t)[None, :], cand[:, None], tf.gather(placed, parent))
            new_used = tf.gather(used, parent) + tf.one_hot(cand, m, dtype=tf.float32)
            new_lr = tf.where(new_live, vals, 0.0)
            new_surv = tf.gather(surv, parent) * tf.gather(tf.reshape(p_hn, [-1]), idx)
            mx = tf.reduce_max(tf.where(new_live, new_lr, NEG))
            mn = tf.reduce_min(tf.where(new_live, new_lr, -NEG))
            stab = tf.where(mx == 0.0, 1.0, mn / tf.where(mx == 0.0, 1.0, mx))
            t1 = t + 1
            return t1, new_placed, new_used, new_lr, new_surv, new_live, (t1 >= n_show) & (stab >= threshold)

        t_max = tf.minimum(n_steps_max, n_valid)
        # Step 1 outside the loop: one live beam with an empty prefix, so the head runs on M rows
        # (not k·M). Same arithmetic as the loop body: ext = 0 + 1 · gain.
        pk0 = tf.tile(k0[None], [m, plen, 1])
        pv0 = tf.tile(v0[None], [m, plen, 1])
        h1, e1, l1 = (tf.reshape(o, [m]) for o in
                      model.head_outputs(repr_, q, pk0, pv0, tf.zeros([m, plen]),
                                         prefix_crosses(cand_ids, tf.zeros([m, plen, C.N_IDS], tf.int32),
                                                        tf.zeros([m, plen]))))
        ext1 = 0.0 + 1.0 * (alpha * e1 + beta * l1)
        vals1, idx1 = tf.math.top_k(tf.where(cmask, ext1, NEG), k)
        live1 = ar_k < tf.minimum(n_valid, k)
        lr1 = tf.where(live1, vals1, 0.0)
        mx1 = tf.reduce_max(tf.where(live1, lr1, NEG))
        mn1 = tf.reduce_min(tf.where(live1, lr1, -NEG))
        stab1 = tf.where(mx1 == 0.0, 1.0, mn1 / tf.where(mx1 == 0.0, 1.0, mx1))
        t1 = tf.minimum(n_valid, 1)
        init = (
            t1,
            tf.where((ar_l == 0)[None, :], idx1[:, None], -1),
            tf.one_hot(idx1, m, dtype=tf.float32),
            lr1,
            tf.gather(h1, idx1),
            live1,
            (t1 >= n_show) & (stab1 >= threshold),
        )
        t, placed, used, lr, _, _, _ = tf.while_loop(
            lambda t, *s: tf.logical_not(s[-1]) & (t < t_max), body, init,
            maximum_iterations=n_steps_max,
        )
        # order: the best beam's placed candidates, then unplaced valid ones in input order, then -1
        rem = cmask & (used[0] < 0.5)
        rank = tf.cumsum(tf.cast(rem, tf.int32)) - 1 + t
        ar_m = tf.range(m)
        idx = tf.concat([tf.where(ar_l < t, ar_l, m), tf.where(rem, rank, m)], 0)
        val = tf.concat([placed[0] + 1, ar_m + 1], 0)
        order = tf.scatter_nd(idx[:, None], val, [m + 1])[:m] - 1
        return {"order": order, "list_reward": lr[0], "steps": t}

    return score, rerank


def tensor_specs(signature: str, dims: C.Dims) -> dict[str, tf.TensorSpec]:
    specs = C.score_inputs(dims) if signature == C.SCORE_SIGNATURE else C.rerank_inputs(dims)
    return {s.name: tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=s.name) for s in specs}
