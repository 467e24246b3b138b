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
    # -- the long term (docs/world.md, "The long-term world"): every switch below is off by
    # -- default, which is the legacy world bit for bit; ``WorldConfig.long_term()`` turns them on.
    utility_corr: float = 1.0
    """Clickbait: correlation of a video's true utility with its appeal (``quality``, what drives the
    effective view). 1 = utility is appeal (legacy)."""
    w_regret: float = 0.0
    """Clickbait regret: satisfaction's target is p_ev·(1 + w_regret·(utility − quality)) +
    like_boost·p_like — a high-appeal, low-utility video is watched and then lowers satisfaction."""
    w_boredom: float = 0.0
    """Boredom: leave-logit penalty per unit of the session's topic concentration (Herfindahl index
    of topic exposure decayed by ``boredom_decay``) above ``boredom_ref``."""
    boredom_decay: float = 0.9
    """Per-position decay of the topic exposure boredom is computed from (slower than fatigue)."""
    boredom_ref: float = 0.3
    """Topic concentration at which boredom is neutral."""
    hate_bias: float = -30.0
    """Explicit negative feedback: p_hate = (1 − p_ev)·sigmoid(hate_bias − hate_slope·affinity);
    -30 = never (legacy)."""
    hate_slope: float = 1.0
    """How much more a poor match is hated (per unit of negative affinity)."""
    hate_penalty: float = 0.0
    """Satisfaction lost per (expected) hate, before the satisfaction decay."""
    return_bias: float | None = None
    """Retention: None = one session per user (legacy). Else a user's episode is a sequence of
    sessions; after each, the user returns with p = sigmoid(return_bias + return_w_satisfaction·
    (S̄ − s_ref) − return_w_boredom·(B̄ − boredom_ref) − return_w_hate·hates), S̄ and B̄ the
    session's mean satisfaction and boredom, hates its expected count; else churns."""
    return_w_satisfaction: float = 0.0
    """Weight of the session's mean satisfaction on returning."""
    return_w_boredom: float = 0.0
    """Weight of the session's mean topic concentration on returning."""
    return_w_hate: float = 0.0
    """Weight of the session's expected hates on returning."""
    return_gap_h: float = 24.0
    """Mean hours until the return (exponential), scaled by exp(−return_gap_w_satisfaction·(S̄ − s_ref))."""
    return_gap_w_satisfaction: float = 0.0
    """How much sooner a satisfied user returns."""
    return_gap_sd: float = 0.0
    """Users differ in how often they open the app: each user's mean gap is scaled by
    exp(return_gap_sd·z), z ~ N(0, 1) fixed per user (KuaiRand's active days spread from 4 to 14 of
    17 between the 10th and 90th percentile)."""
    episode_days: float = 7.0
    """An episode (one user) spans this many days; sessions starting later are not played."""
    max_sessions: int = 30
    """Hard cap on sessions per episode."""

    @staticmethod
    def legacy() -> WorldConfig:
        """The first synthetic world (``--world synthetic-legacy``): one session per user, no
        clickbait, boredom, hate or retention. Every earlier number was measured in it."""
        return WorldConfig()

    @staticmethod
    def long_term() -> WorldConfig:
        """The long-term world: retention across sessions, clickbait regret, boredom from low
        diversity and explicit negative feedback, with the parameters and their evidence in
        docs/world.md ("The long-term world"). Chosen before any measurement of planning headroom."""
        return replace(
            WorldConfig(),
            # mechanisms (structural weights, docs/world.md gives the evidence for each)
            utility_corr=0.4, w_regret=2.0,
            w_boredom=3.0, boredom_decay=0.9, boredom_ref=0.3,
            hate_slope=1.0, hate_penalty=2.0,
            return_w_satisfaction=8.0, return_w_boredom=3.0, return_w_hate=1.0,
            return_gap_w_satisfaction=2.0, return_gap_sd=0.6,
            # calibration offsets, fitted under server order to KuaiRand's marginals (effective view
            # 33.2%, like 1.85%, hate 0.05%, session depth ~22, active days 8.0 of 17 with 10th-90th
            # percentiles 4-14); `reelrank world-info --world synthetic-long-term` reports them
            ev_bias=-2.16, like_bias=-3.90, h0=3.72, hate_bias=-9.56,
            return_bias=5.5, return_gap_h=30.0,
        )

    @property
    def multi_session(self) -> bool:
        return self.return_bias is not None

    def to_json(self) -> dict:
        """The parameters. A legacy world (every long-term field at its legacy value) leaves the
        long-term fields out, so its metadata (logs, manifests) keeps its bytes; any other world
        lists them all, so the JSON reloads to the same world on either base."""
        out = asdict(self)
        if all(out[name] == _LEGACY_DEFAULTS[name] for name in _LONG_TERM_FIELDS):
            for name in _LONG_TERM_FIELDS:
                del out[name]
        return out

    @staticmethod
    def from_json(data: dict, base: WorldConfig | None = None) -> WorldConfig:
        """``base`` (default: the legacy world) with the fields in ``data`` replaced."""
        known = {f.name for f in fields(WorldConfig)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown world parameters {unknown}; known: {sorted(known)}")
        return replace(base or WorldConfig(), **data)

    @staticmethod
    def load(path: str | Path, base: WorldConfig | None = None) -> WorldConfig:
        return WorldConfig.from_json(json.loads(Path(path).read_text()), base)


_LONG_TERM_FIELDS = ("utility_corr", "w_regret", "w_boredom", "boredom_decay", "boredom_ref", "hate_bias",
                     "hate_slope", "hate_penalty", "return_bias", "return_w_satisfaction", "return_w_boredom",
                     "return_w_hate", "return_gap_h", "return_gap_w_satisfaction", "return_gap_sd",
                     "episode_days", "max_sessions")
_LEGACY_DEFAULTS = {name: getattr(WorldConfig(), name) for name in _LONG_TERM_FIELDS}


class Catalog(NamedTuple):
    topic: np.ndarray  # int [V]
    author: np.ndarray  # int [V]
    quality: np.ndarray  # float [V] appeal: what drives the effective view
    duration_s: np.ndarray  # float [V]
    age_days: np.ndarray  # float [V]
    author_effect: np.ndarray  # float [V] (the author's effect, per video for speed)
    utility: np.ndarray | None = None  # float [V] what the user feels afterwards (None = quality)


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
    hate: int = 0
    p_hate: float = 0.0


class Page(NamedTuple):
    """What the server sends for one request."""

    videos: np.ndarray  # int [page_size] catalog indices, in server order
    server_p_ev: np.ndarray
    server_p_like: np.ndarray
    server_p_has_next: np.ndarray
    propensity: np.ndarray  # probability the server placed this video at this rank
    request: int


def utility_of(quality: np.ndarray, corr: float, world_seed: int) -> np.ndarray:
    """A video's true utility, correlated ``corr`` with its appeal (``quality`` ~ Beta(2, 2)): the
    same-variance mix corr·(q − ½) + √(1 − corr²)·(q′ − ½) + ½ with q′ ~ Beta(2, 2) from a stream of
    its own (the legacy catalog's draws are untouched), clipped to [0, 1]."""
    rng = np.random.default_rng(np.random.SeedSequence([int(world_seed), 0x5EED, 0x0717]))
    other = rng.beta(2.0, 2.0, quality.shape[0])
    mix = corr * (quality - 0.5) + math.sqrt(max(1.0 - corr * corr, 0.0)) * (other - 0.5) + 0.5
    return np.clip(mix, 0.0, 1.0)


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
        if cfg.utility_corr != 1.0:
            self.catalog = self.catalog._replace(utility=utility_of(self.catalog.quality, cfg.utility_corr,
                                                                    self.world_seed))
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

    def new_session(self, seed: int, index: int, user_id: int | None = None, part: int = 0) -> UserSession:
        """Session ``index`` of run ``seed``: same (seed, index) → same user and random streams.
        ``part`` k ≥ 1 is the user's k-th return in an episode (its own intent path and uniforms)."""
        key = [self.world_seed, int(seed), int(index)] + ([int(part)] if part else [])
        rng = np.random.default_rng(np.random.SeedSequence(key))
        if user_id is None:
            user_id = int(rng.integers(0, self.config.n_users))
        elif part:
            rng.integers(0, self.config.n_users)  # the same draws as a first session would make
        return UserSession(self, user_id, rng)

    def new_episode(self, seed: int, index: int) -> Episode:
        """User ``index`` of run ``seed`` over an episode; its first session is ``new_session(seed,
        index)``. In a single-session world (``return_bias`` None) the episode is that session."""
        return Episode(self, seed, index)

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
    # the long term (zero / None in the legacy world)
    exposure: np.ndarray | None = None  # [T] topic exposure decayed by boredom_decay
    boredom: float = 0.0  # Herfindahl index of ``exposure`` after the last video
    sat_sum: float = 0.0  # Σ satisfaction after each video (its mean drives the return)
    bore_sum: float = 0.0  # Σ boredom after each video
    hates: float = 0.0  # expected hates so far


def concentration(exposure: np.ndarray) -> float:
    """Herfindahl index Σ e² / (Σ e)² of a topic-exposure vector (1 = a single topic)."""
    total = float(exposure.sum())
    return float(np.square(exposure).sum()) / (total * total) if total > 0 else 0.0


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
        self._long_term = (cfg.w_regret != 0.0 or cfg.w_boredom != 0.0 or cfg.hate_bias > -30.0
                           or cfg.return_bias is not None)
        self._p_hate = 0.0
        self.seen: list[int] = []
        self.sent: list[int] = []  # every video the server has sent (it never resends one)
        self.elapsed_s = 0.0
        self.last_gap_s = 0.0
        self.active = True

    # -- the response law -------------------------------------------------------------------------
    def _probs(self, st: _State, video: int, intent: int | None = None) -> tuple[float, float, float, _State]:
        """True (p_ev, p_like, p_has_next) of showing ``video`` in state ``st``, and the next state.
        ``intent`` replaces the session's intent at that position (a planner's sampled future)."""
        cfg = self.world.config
        cat = self.world.catalog
        topic = int(cat.topic[video])
        author = int(cat.author[video])
        t = min(st.position, cfg.max_depth - 1)
        if intent is None:
            intent = int(self.intent[t])
        log_dur = max(math.log(float(cat.duration_s[video]) / 20.0), 0.0)
        aff = (
            cfg.ev_bias
            + self.bias
            + cfg.w_intent * (1.0 if topic == intent else 0.0)
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
        tf = st.topic_fatigue * cfg.fatigue_decay
        tf[topic] += 1.0
        af = {a: v * cfg.fatigue_decay for a, v in st.author_fatigue.items() if v > 0.05}
        af[author] = af.get(author, 0.0) + 1.0
        if not self._long_term:  # the legacy world, expression for expression
            s_next = cfg.satisfaction_decay * st.satisfaction + (1.0 - cfg.satisfaction_decay) * (
                p_ev + cfg.like_boost * p_like
            )
            p_hn = _sigmoid(cfg.h0 + self.patience + cfg.h1 * (s_next - cfg.s_ref))
            return p_ev, p_like, p_hn, _State(st.position + 1, s_next, tf, af)
        utility = float(cat.quality[video] if cat.utility is None else cat.utility[video])
        p_hate = (1.0 - p_ev) * _sigmoid(cfg.hate_bias - cfg.hate_slope * aff)
        felt = p_ev * (1.0 + cfg.w_regret * (utility - float(cat.quality[video]))) + cfg.like_boost * p_like
        s_next = cfg.satisfaction_decay * st.satisfaction + (1.0 - cfg.satisfaction_decay) * (
            felt - cfg.hate_penalty * p_hate)
        exposure = (np.zeros(cfg.n_topics) if st.exposure is None else st.exposure) * cfg.boredom_decay
        exposure[topic] += 1.0
        boredom = concentration(exposure)
        p_hn = _sigmoid(cfg.h0 + self.patience + cfg.h1 * (s_next - cfg.s_ref)
                        - cfg.w_boredom * (boredom - cfg.boredom_ref))
        self._p_hate = p_hate
        return p_ev, p_like, p_hn, _State(st.position + 1, s_next, tf, af, exposure, boredom,
                                          st.sat_sum + s_next, st.bore_sum + boredom, st.hates + p_hate)

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
        p_hate = self._p_hate if self._long_term else 0.0
        hate = int(not ev and u[3] < p_hate / max(1.0 - p_ev, 1e-12)) if p_hate > 0.0 else 0
        self.state = new_state
        self.seen.append(int(video))
        self.last_gap_s = float(self.gaps_s[min(t, cfg.max_depth - 1)])
        self.elapsed_s += watch_s + self.last_gap_s
        self.active = bool(stay)
        return Response(p_ev, p_like, p_hn, ev, like, stay, float(ratio), float(watch_s), hate, p_hate)

    @property
    def position(self) -> int:
        return self.state.position


def return_probability(cfg: WorldConfig, st: _State) -> float:
    """P(the user comes back) after a session that ended in state ``st`` (0 without retention)."""
    if cfg.return_bias is None or st.position == 0:
        return 0.0
    n = float(st.position)
    return _sigmoid(cfg.return_bias + cfg.return_w_satisfaction * (st.sat_sum / n - cfg.s_ref)
                    - cfg.return_w_boredom * (st.bore_sum / n - cfg.boredom_ref)
                    - cfg.return_w_hate * st.hates)


class Episode:
    """One user's sessions over ``episode_days`` (the long-term world).

    Session k ≥ 1 is ``world.new_session(seed, index, user_id, part=k)``: the same user (fixed
    traits), a fresh intent path and fresh per-position uniforms. Each session starts from the
    world's neutral state; the device keeps its history (``SessionState.start_session``). When a
    session ends, the user returns with ``return_probability`` of its (mean-field, so exactly
    computable) end state, after an exponential gap, unless the episode's days are over; the
    return draws come from a stream of their own (``return_uniforms``), apart from the sessions'.
    """

    def __init__(self, world: SyntheticWorld, seed: int, index: int) -> None:
        cfg = world.config
        self.world, self.seed, self.index = world, int(seed), int(index)
        self.session = world.new_session(seed, index)
        self.user_id = self.session.user_id
        self.part = 0
        rng = np.random.default_rng(np.random.SeedSequence([world.world_seed, int(seed), int(index), 0x2E7]))
        self.return_uniforms = rng.random((cfg.max_sessions, 2))
        trait = np.random.default_rng(np.random.SeedSequence([world.world_seed, 0xA11CE, self.user_id, 0x6A9]))
        self.gap_scale = math.exp(cfg.return_gap_sd * float(trait.normal()))  # the user's activity level
        self.hours = 0.0  # when the current session started, hours since the episode began
        self.gap_h = 0.0  # the gap before the current session
        self.churned = False

    def next_session(self) -> UserSession | None:
        """After the current session has ended: the user's next session, or None (churned, or the
        episode's days or ``max_sessions`` are over; ``churned`` says which)."""
        cfg = self.world.config
        prev = self.session
        if cfg.return_bias is None:
            self.churned = True
            return None
        p = return_probability(cfg, prev.state)
        u = self.return_uniforms[self.part]
        if u[0] >= p:
            self.churned = True
            return None
        n = max(prev.state.position, 1)
        mean_gap = cfg.return_gap_h * self.gap_scale * math.exp(
            -cfg.return_gap_w_satisfaction * (prev.state.sat_sum / n - cfg.s_ref))
        gap_h = -mean_gap * math.log(max(1.0 - u[1], 1e-300))
        start = self.hours + prev.elapsed_s / 3600.0 + gap_h
        if start >= 24.0 * cfg.episode_days or self.part + 1 >= cfg.max_sessions:
            return None
        self.part += 1
        self.hours, self.gap_h = start, gap_h
        self.session = self.world.new_session(self.seed, self.index, self.user_id, part=self.part)
        return self.session

