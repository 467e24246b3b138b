"""The numpy synthetic short-video world: users, videos, responses, leaving, and a server.

Generative law (all parameters in ``WorldConfig``):

* **Videos** have a topic, an author (Zipf popularity, an author effect), a quality, a duration
  (log-normal seconds) and an age.
* **Users** have long-term topic interests (Dirichlet) and, within a session, an *intent* topic
  that drifts: at every position it switches with probability ``intent_switch`` to a topic drawn
  from the interests. The intent path is drawn once per session (it does not depend on what is
  shown), so it is part of the user's state.
* **Affinity** of a video at position t: intent match, long-term match, quality, author effect,
  duration (long videos are watched less, more so on cellular), age, repetition fatigue (same topic
  or author shown recently) and satisfaction. p_ev = sigmoid(affinity); p_like ≤ p_ev grows with
  affinity; a like only happens on an effective view.
* **Satisfaction** S moves toward each video's expected value (p_ev + like_boost·p_like);
  **leaving**: p_has_next = sigmoid(h0 + user patience + h1·(S − s_ref)). Satisfaction and fatigue
  evolve on *expected* responses (mean-field) while outcomes are sampled, so the response
  probabilities along any list are a deterministic function of the user state and the list: the
  true expected ListReward of a list is computed exactly (``expected_list_reward``), not sampled.
* **Server**: every request draws a pool of unseen videos, predicts pXTR from *stale* interests
  (long-term only, with noise; no intent, no fatigue, no satisfaction) plus noise, and sends the
  top ``page_size`` by its score, each slot replaced with probability ``explore_rate`` by a
  uniformly drawn pool video; the exact propensity of every placement is logged.

So feedback seen on the device carries information the server lacked (the intent, the user's
true interests), and order within a page matters (survival discount, fatigue, satisfaction).
Everything is deterministic from ``(config, world_seed)`` and, per session, ``(seed, index)``;
outcomes at position t use uniforms drawn for position t, so sessions of different strategies
are paired (common random numbers).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from device_runtime.features import RawVideos


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _sigmoid_np(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class WorldConfig:
    """Parameters of the synthetic world. Defaults are calibrated to KuaiRand-Pure's standard feed
    (long_view 33.2%, is_like 1.85%) with a mean session depth between 10 and 40 videos."""

    n_topics: int = 16
    """Number of video topics (categories)."""
    n_videos: int = 5000
    """Catalog size."""
    n_authors: int = 600
    """Number of authors; videos pick authors with Zipf(1.1) popularity."""
    n_users: int = 20000
    """User population; a session draws its user uniformly."""
    interest_concentration: float = 0.25
    """Dirichlet concentration of long-term topic interests (small = peaked interests)."""
    intent_switch: float = 0.1
    """Per-position probability that the in-session intent topic switches."""
    w_intent: float = 2.0
    """Affinity bonus when the video's topic is the current intent."""
    w_interest: float = 0.55
    """Weight of log(T · interest[topic]) (clipped to [-3, 1.5])."""
    w_quality: float = 2.0
    """Weight of (quality - 0.5); quality ~ Beta(2, 2)."""
    author_effect_sd: float = 0.35
    """Standard deviation of the per-author affinity effect."""
    w_duration: float = 0.45
    """Penalty per unit of log(duration / 20 s) above zero."""
    w_cellular: float = 0.35
    """Extra duration penalty on a cellular network."""
    w_age: float = 0.15
    """Penalty per unit of log1p(age days) / log1p(365)."""
    w_topic_fatigue: float = 0.4
    """Penalty per unit of same-topic exposure (exponentially decayed, factor fatigue_decay)."""
    w_author_fatigue: float = 0.6
    """Penalty per unit of same-author exposure (decayed the same way)."""
    fatigue_decay: float = 0.6
    """Decay of repetition fatigue per position."""
    w_satisfaction: float = 1.0
    """Weight of (S - s_ref) in the affinity."""
    ev_bias: float = -2.15
    """Affinity offset: sets the effective-view rate."""
    user_bias_sd: float = 0.5
    """Per-user affinity offset standard deviation."""
    like_bias: float = -3.65
    """Like logit offset: sets the like rate."""
    like_slope: float = 0.9
    """Like logit per unit of affinity."""
    satisfaction_decay: float = 0.7
    """S_{t+1} = decay · S_t + (1 - decay) · (p_ev + like_boost · p_like)."""
    like_boost: float = 3.0
    """How much a (probable) like adds to satisfaction."""
    s_ref: float = 0.35
    """Reference satisfaction (roughly the mean effective-view rate)."""
    h0: float = 3.0
    """Leave logit offset (sets depth); p_has_next = sigmoid(h0 + patience + h1 (S - s_ref))."""
    h1: float = 6.0
    """Sensitivity of staying to satisfaction."""
    patience_sd: float = 0.6
    """Per-user patience standard deviation (logit)."""
    max_depth: int = 200
    """Hard cap on a session's length."""
    wifi_rate: float = 0.7
    """Probability that a session is on wifi."""
    pool_size: int = 120
    """Videos the server considers per request."""
    page_size: int = 9
    """Videos returned per request (Kuaishou: 9)."""
    refresh_every: int = 6
    """A new request every this many consumed videos (Kuaishou: 6)."""
    cache_limit: int = 12
    """Most videos the client caches (leftovers beyond it are dropped when a page arrives)."""
    stale_noise: float = 0.6
    """Noise (log scale) on the server's copy of the user's interests."""
    pxtr_noise: float = 0.35
    """Logit noise on the server's pXTR predictions."""
    explore_rate: float = 0.1
    """Probability that a page slot is filled by a uniformly drawn pool video."""
    watch_ratio_slope: float = 0.6
    """watch ratio = (effective-view threshold ratio) · exp(slope · latent utility), capped."""
    max_watch_ratio: float = 3.0
    """Cap on the watch ratio (replays)."""

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> WorldConfig:
        known = {f.name for f in fields(WorldConfig)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown world parameters {unknown}; known: {sorted(known)}")
        return replace(WorldConfig(), **data)

    @staticmethod
    def load(path: str | Path) -> WorldConfig:
        return WorldConfig.from_json(json.loads(Path(path).read_text()))


class Catalog(NamedTuple):
    topic: np.ndarray  # int [V]
    author: np.ndarray  # int [V]
    quality: np.ndarray  # float [V]
    duration_s: np.ndarray  # float [V]
    age_days: np.ndarray  # float [V]
    author_effect: np.ndarray  # float [V] (the author's effect, per video for speed)


class Response(NamedTuple):
    """One watched video: the true probabilities and the sampled outcome."""

    p_ev: float
    p_like: float
    p_has_next: float
    effective_view: int
    like: int
    has_next: int
    watch_ratio: float
    watch_s: float


class Page(NamedTuple):
    """What the server sends for one request."""

    videos: np.ndarray  # int [page_size] catalog indices, in server order
    server_p_ev: np.ndarray
    server_p_like: np.ndarray
    server_p_has_next: np.ndarray
    propensity: np.ndarray  # probability the server placed this video at this rank
    request: int


class SyntheticWorld:
    """Catalog, user population and server of one world, deterministic from ``world_seed``."""

    def __init__(self, config: WorldConfig | None = None, world_seed: int = 0) -> None:
        self.config = cfg = config or WorldConfig()
        self.world_seed = int(world_seed)
        rng = np.random.default_rng(np.random.SeedSequence([self.world_seed, 0x5EED]))
        n = cfg.n_videos
        author_pop = 1.0 / np.arange(1, cfg.n_authors + 1) ** 1.1
        author = rng.choice(cfg.n_authors, size=n, p=author_pop / author_pop.sum())
        author_effect_table = rng.normal(0.0, cfg.author_effect_sd, cfg.n_authors)
        self.catalog = Catalog(
            topic=rng.integers(0, cfg.n_topics, n),
            author=author,
            quality=rng.beta(2.0, 2.0, n),
            duration_s=np.clip(np.exp(rng.normal(math.log(25.0), 0.9, n)), 3.0, 600.0),
            age_days=np.exp(rng.uniform(0.0, math.log(365.0), n)) - 1.0,
            author_effect=author_effect_table[author],
        )
        # Per-user latent traits, drawn lazily from a per-user stream (user ids are stable).
        self._user_cache: dict[int, tuple[np.ndarray, np.ndarray, float, float]] = {}

    # -- users ----------------------------------------------------------------------------------
    def user_traits(self, user_id: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(true interests, server's stale interests, affinity bias, patience) of a user."""
        if user_id not in self._user_cache:
            cfg = self.config
            rng = np.random.default_rng(np.random.SeedSequence([self.world_seed, 0xA11CE, user_id]))
            interest = rng.dirichlet(np.full(cfg.n_topics, cfg.interest_concentration))
            interest = np.clip(interest, 1e-4, None)
            interest /= interest.sum()
            stale = np.exp(np.log(interest) + rng.normal(0.0, cfg.stale_noise, cfg.n_topics))
            stale /= stale.sum()
            bias = float(rng.normal(0.0, cfg.user_bias_sd))
            patience = float(rng.normal(0.0, cfg.patience_sd))
            self._user_cache[user_id] = (interest, stale, bias, patience)
        return self._user_cache[user_id]

    def new_session(self, seed: int, index: int, user_id: int | None = None) -> UserSession:
        """Session ``index`` of run ``seed``: same (seed, index) → same user and random streams."""
        ss = np.random.SeedSequence([self.world_seed, int(seed), int(index)])
        rng = np.random.default_rng(ss)
        if user_id is None:
            user_id = int(rng.integers(0, self.config.n_users))
        return UserSession(self, user_id, rng)

    # -- server ---------------------------------------------------------------------------------
    def server_page(self, session: UserSession, request: int) -> Page:
        """The page the server sends for ``request`` (0, 1, ...) of a session."""
        cfg = self.config
        cat = self.catalog
        rng = np.random.default_rng(
            np.random.SeedSequence([self.world_seed, session.seed_entropy, 0xBEEF, request])
        )
        pool = rng.choice(cfg.n_videos, size=min(cfg.pool_size + 40, cfg.n_videos), replace=False)
        pool = pool[~np.isin(pool, np.asarray(session.sent, dtype=np.int64))][: cfg.pool_size]
        interest_stale = session.stale_interest
        # The server's affinity: stale interests, no intent, no fatigue, neutral satisfaction.
        aff = (
            cfg.ev_bias
            + cfg.w_interest * np.clip(np.log(cfg.n_topics * interest_stale[cat.topic[pool]]), -3, 1.5)
            + cfg.w_quality * (cat.quality[pool] - 0.5)
            + cat.author_effect[pool]
            - cfg.w_duration * np.maximum(np.log(cat.duration_s[pool] / 20.0), 0.0)
            - cfg.w_age * np.log1p(cat.age_days[pool]) / math.log1p(365.0)
        )
        noise = rng.normal(0.0, cfg.pxtr_noise, size=(3, pool.size))
        p_ev = _sigmoid_np(aff + noise[0])
        p_like = np.minimum(_sigmoid_np(cfg.like_bias + cfg.like_slope * aff + noise[1]), p_ev)
        s_next = cfg.satisfaction_decay * cfg.s_ref + (1 - cfg.satisfaction_decay) * (
            p_ev + cfg.like_boost * p_like
        )
        p_hn = _sigmoid_np(cfg.h0 + cfg.h1 * (s_next - cfg.s_ref) + noise[2])
        score = p_ev + cfg.like_boost * p_like
        order = np.argsort(-score, kind="stable")
        k = min(cfg.page_size, pool.size)
        chosen: list[int] = []
        propensity: list[float] = []
        remaining = list(order)  # pool positions, best first
        explore = rng.random(k)
        picks = rng.random(k)
        for slot in range(k):
            n_left = len(remaining)
            if explore[slot] < cfg.explore_rate:
                j = int(picks[slot] * n_left)
            else:
                j = 0
            item = remaining.pop(j)
            prop = cfg.explore_rate / n_left + (1.0 - cfg.explore_rate) * (1.0 if j == 0 else 0.0)
            chosen.append(item)
            propensity.append(prop)
        idx = np.asarray(chosen, dtype=np.int64)
        session.sent.extend(int(v) for v in pool[idx])
        return Page(
            videos=pool[idx],
            server_p_ev=p_ev[idx],
            server_p_like=p_like[idx],
            server_p_has_next=p_hn[idx],
            propensity=np.asarray(propensity),
            request=request,
        )

    def raw_videos(self, page: Page, rows: np.ndarray | None = None) -> RawVideos:
        """The page as the contract's raw per-video facts (what the device receives)."""
        rows = np.arange(page.videos.size) if rows is None else np.asarray(rows)
        v = page.videos[rows]
        cat = self.catalog
        return RawVideos(
            video_id=v.astype(np.int64),
            server_p_ev=page.server_p_ev[rows],
            server_p_like=page.server_p_like[rows],
            server_p_has_next=page.server_p_has_next[rows],
            duration_s=cat.duration_s[v],
            age_days=cat.age_days[v],
            server_rank=rows.astype(np.int64),
            topic=cat.topic[v],
            author=cat.author[v],
        )


class _State(NamedTuple):
    position: int
    satisfaction: float
    topic_fatigue: np.ndarray  # [T]
    author_fatigue: dict[int, float]


class UserSession:
    """One user's session: the hidden state the world keeps and the device never sees."""

    def __init__(self, world: SyntheticWorld, user_id: int, rng: np.random.Generator) -> None:
        cfg = world.config
        self.world = world
        self.user_id = user_id
        self.interest, self.stale_interest, self.bias, self.patience = world.user_traits(user_id)
        self.seed_entropy = int(rng.integers(0, 2**62))
        self.network = float(rng.random() < cfg.wifi_rate)
        # The intent path: drawn once, exogenous to what is shown.
        n = cfg.max_depth
        switch = rng.random(n) < cfg.intent_switch
        draws = rng.choice(cfg.n_topics, size=n, p=self.interest)
        intent = np.empty(n, dtype=np.int64)
        intent[0] = draws[0]
        for t in range(1, n):
            intent[t] = draws[t] if switch[t] else intent[t - 1]
        self.intent = intent
        # Per-position uniforms: outcome t uses row t whatever the strategy (paired sessions).
        self.uniforms = rng.random((n, 4))
        self.gaps_s = rng.exponential(2.0, n)
        self.state = _State(0, cfg.s_ref, np.zeros(cfg.n_topics), {})
        self.seen: list[int] = []
        self.sent: list[int] = []  # every video the server has sent (it never resends one)
        self.elapsed_s = 0.0
        self.last_gap_s = 0.0
        self.active = True

    # -- the response law -------------------------------------------------------------------------
    def _probs(self, st: _State, video: int) -> tuple[float, float, float, _State]:
        cfg = self.world.config
        cat = self.world.catalog
        topic = int(cat.topic[video])
        author = int(cat.author[video])
        t = min(st.position, cfg.max_depth - 1)
        log_dur = max(math.log(float(cat.duration_s[video]) / 20.0), 0.0)
        aff = (
            cfg.ev_bias
            + self.bias
            + cfg.w_intent * (1.0 if topic == self.intent[t] else 0.0)
            + cfg.w_interest * min(max(math.log(cfg.n_topics * self.interest[topic]), -3.0), 1.5)
            + cfg.w_quality * (float(cat.quality[video]) - 0.5)
            + float(cat.author_effect[video])
            - (cfg.w_duration + cfg.w_cellular * (1.0 - self.network)) * log_dur
            - cfg.w_age * math.log1p(float(cat.age_days[video])) / math.log1p(365.0)
            - cfg.w_topic_fatigue * float(st.topic_fatigue[topic])
            - cfg.w_author_fatigue * st.author_fatigue.get(author, 0.0)
            + cfg.w_satisfaction * (st.satisfaction - cfg.s_ref)
        )
        p_ev = _sigmoid(aff)
        p_like = min(_sigmoid(cfg.like_bias + cfg.like_slope * aff), p_ev)
        s_next = cfg.satisfaction_decay * st.satisfaction + (1.0 - cfg.satisfaction_decay) * (
            p_ev + cfg.like_boost * p_like
        )
        p_hn = _sigmoid(cfg.h0 + self.patience + cfg.h1 * (s_next - cfg.s_ref))
        tf = st.topic_fatigue * cfg.fatigue_decay
        tf[topic] += 1.0
        af = {a: v * cfg.fatigue_decay for a, v in st.author_fatigue.items() if v > 0.05}
        af[author] = af.get(author, 0.0) + 1.0
        return p_ev, p_like, p_hn, _State(st.position + 1, s_next, tf, af)

    def list_probabilities(self, videos: list[int] | np.ndarray) -> np.ndarray:
        """True (p_ev, p_like, p_has_next) at each position of ``videos`` shown from now: [n, 3]."""
        st = self.state
        out = np.zeros((len(videos), 3))
        for i, v in enumerate(videos):
            p_ev, p_like, p_hn, st = self._probs(st, int(v))
            out[i] = (p_ev, p_like, p_hn)
        return out

    def expected_list_reward(
        self, videos: list[int] | np.ndarray, alpha: float = 1.0, beta: float = 5.0
    ) -> float:
        """The oracle: exact expected α·effective_views + β·likes of showing ``videos`` in order.

        Equals ListReward Σ s_i (α p_ev_i + β p_like_i) with s_i = Π_{j<i} p_has_next_j under the
        world's true probabilities (video i is watched iff the user stayed after every j < i).
        """
        p = self.list_probabilities(videos)
        survival = np.concatenate([[1.0], np.cumprod(p[:-1, 2])]) if len(p) else np.zeros(0)
        return float(np.sum(survival * (alpha * p[:, 0] + beta * p[:, 1])))

    # -- stepping -----------------------------------------------------------------------------------
    def watch(self, video: int) -> Response:
        """Show ``video`` next; sample the user's response and advance the hidden state."""
        if not self.active:
            raise RuntimeError("the user has left this session")
        cfg = self.world.config
        t = self.state.position
        p_ev, p_like, p_hn, new_state = self._probs(self.state, int(video))
        logit_affinity = math.log(p_ev / (1.0 - p_ev)) if 0.0 < p_ev < 1.0 else (30.0 if p_ev >= 1 else -30.0)
        u = self.uniforms[min(t, cfg.max_depth - 1)]
        # Latent utility z = affinity + logistic noise: ev ⇔ z > 0 (so P(ev) = p_ev exactly) and
        # the watch ratio grows with z, so it tells the device more than the binary label.
        z = logit_affinity + math.log(u[0] / (1.0 - u[0])) if 0.0 < u[0] < 1.0 else logit_affinity
        ev = int(z > 0.0)
        like = int(ev and u[1] < p_like / max(p_ev, 1e-12))
        stay = int(u[2] < p_hn and t + 1 < cfg.max_depth)
        duration = float(self.world.catalog.duration_s[video])
        threshold = min(duration, 18.0) / duration  # KuaiRand's long_view rule
        ratio = min(threshold * math.exp(cfg.watch_ratio_slope * z), cfg.max_watch_ratio)
        if ev:
            ratio = max(ratio, threshold)
        watch_s = ratio * duration
        self.state = new_state
        self.seen.append(int(video))
        self.last_gap_s = float(self.gaps_s[min(t, cfg.max_depth - 1)])
        self.elapsed_s += watch_s + self.last_gap_s
        self.active = bool(stay)
        return Response(p_ev, p_like, p_hn, ev, like, stay, float(ratio), float(watch_s))

    @property
    def position(self) -> int:
        return self.state.position
