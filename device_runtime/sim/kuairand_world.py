"""The real-catalog world: the synthetic world's generative law over KuaiRand's videos and users.

``KuaiRandWorld`` is a ``SyntheticWorld`` whose catalog and user population come from the
KuaiRand-Pure tables (7,583 videos, 27,285 users) instead of random draws; the response law,
the server, the oracle (``expected_list_reward``) and the paired-session streams are the
synthetic world's, unchanged. What is real and what stays latent:

* **real** — each video's topic (first tag: 43 tag ids plus "no tag"; the device sees the raw id), author
  (``author_id``; the device sees it hashed), duration (the 239 blank durations get the catalog
  median), age at ``reference_date`` (``upload_dt`` → days), video type and music type; each user's
  activity degree; the topic popularity of the catalog (users' interests are drawn around it).
* **static logit offsets** (``KuaiRandCalibration``) per duration bucket, video type and music type
  (folded into the catalog's per-video ``author_effect`` column, which the server also sees) and
  per user-activity group (added to the user's affinity bias). They replace the synthetic law's
  parametric duration penalty (``w_duration = 0``; the cellular penalty stays).
* **latent** (drawn from ``world_seed``, as in the synthetic world) — video quality, the author
  effect, each user's interests, intent path, bias and patience.

``is_click`` (KuaiRand's *valid play*: play ≥ duration for videos ≤ 7 s, else play > 7 s) is read
off the simulated watch time (``valid_play``); since watch time grows with the same latent utility
that decides the effective view, its probability is exact too (``click_probability``).

The defaults of ``KuaiRandCalibration`` come from ``device_runtime.sim.kuairand_calibration.fit``;
they are stored here so no run re-fits them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from device_runtime.features import RawVideos
from device_runtime.sim import kuairand_tables as T
from device_runtime.sim.world import Catalog, Page, SyntheticWorld, WorldConfig

_MS_PER_DAY = 86_400_000.0


@dataclass(frozen=True)
class KuaiRandCalibration:
    """Parameters of the real-catalog world; defaults are the result of ``kuairand_calibration.fit``
    (``reelrank world-calibration --world kuairand --fit`` re-runs it)."""

    ev_bias: float = -3.3486
    """Affinity offset (``WorldConfig.ev_bias``)."""
    duration_offsets: tuple[float, ...] = (1.8212, 0.7353, 0.1326, 0.1559, -0.0432, -0.2470, -0.4800, -1.3249)
    """Affinity offset per duration bucket (``kuairand_tables.DURATION_BUCKETS``)."""
    type_offsets: tuple[float, ...] = (0.0074, -0.7289, 0.4257)
    """Affinity offset per video type group (``kuairand_tables.TYPE_GROUPS``)."""
    music_offsets: tuple[float, ...] = (-0.0291, 0.0551, 0.6388)
    """Affinity offset per music type group (``kuairand_tables.MUSIC_GROUPS``)."""
    activity_offsets: tuple[float, ...] = (-0.1800, 0.0986, 0.6348, 1.3184)
    """Affinity offset per user activity group (``kuairand_tables.ACTIVITY_GROUPS``)."""
    personalisation: float = 1.4713
    """Scale on the weight of long-term interest (``w_interest``), the user-specific term the
    server knows (stale): the value of personalisation, fit so the server's pages reach the
    standard feed's long-view rate while random videos stay at the random log's."""
    like_bias: float = -3.7888
    """Like logit offset (``WorldConfig.like_bias``)."""
    like_slope: float = 0.6209
    """Like logit per unit of affinity (``WorldConfig.like_slope``)."""
    watch_ratio_slope: float = 0.7949
    """Watch ratio = threshold ratio · exp(slope · latent utility) (sets the valid-play rate)."""
    pool_size: int = 120
    """Videos the server scores per request."""
    reference_date: str = "2022-04-30"
    """Video age is measured at this date (the middle of the random log's 2022-04-22..05-08)."""

    def __post_init__(self) -> None:
        for name, groups in (("duration_offsets", T.DURATION_BUCKETS), ("type_offsets", T.TYPE_GROUPS),
                             ("music_offsets", T.MUSIC_GROUPS), ("activity_offsets", T.ACTIVITY_GROUPS)):
            value = tuple(float(x) for x in getattr(self, name))
            if len(value) != len(groups):
                raise ValueError(f"`{name}` must have {len(groups)} values {groups}, got {len(value)}")
            object.__setattr__(self, name, value)
        if self.personalisation < 0:
            raise ValueError(f"`personalisation` must be >= 0, got {self.personalisation}")

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @staticmethod
    def from_json(data: dict) -> KuaiRandCalibration:
        known = {f.name for f in fields(KuaiRandCalibration)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown kuairand world parameters {unknown}; known: {sorted(known)}")
        return replace(KuaiRandCalibration(), **{k: tuple(v) if isinstance(v, list) else v
                                                  for k, v in data.items()})

    @staticmethod
    def load(path: str | Path) -> KuaiRandCalibration:
        return KuaiRandCalibration.from_json(json.loads(Path(path).read_text()))


def valid_play(watch_s: np.ndarray | float, duration_s: np.ndarray | float) -> np.ndarray:
    """KuaiRand's ``is_click``: play ≥ duration for videos of ≤ 7 s, else play > 7 s."""
    w = np.asarray(watch_s, dtype=np.float64)
    d = np.asarray(duration_s, dtype=np.float64)
    return np.where(d <= 7.0, w >= d, w > 7.0)


def click_probability(p_ev: np.ndarray, duration_s: np.ndarray, watch_ratio_slope: float) -> np.ndarray:
    """Exact P(valid play) of a video whose effective-view probability is ``p_ev``.

    The world's watch time is min(d, 18) · exp(slope · z) with z = logit(p_ev) + logistic noise
    (effective view ⇔ z > 0), so play > min(d, 7) ⇔ z > −log(min(d, 18) / min(d, 7)) / slope."""
    p = np.clip(np.asarray(p_ev, dtype=np.float64), 1e-12, 1 - 1e-12)
    d = np.asarray(duration_s, dtype=np.float64)
    shift = np.log(np.minimum(d, 18.0) / np.minimum(d, 7.0)) / watch_ratio_slope
    return 0.5 * (1.0 + np.tanh(0.5 * (np.log(p / (1 - p)) + shift)))


class KuaiRandWorld(SyntheticWorld):
    """The synthetic law over KuaiRand's catalog and users (see the module docstring)."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        calibration: KuaiRandCalibration | None = None,
        world_seed: int = 0,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else T.default_data_dir()
        self.calibration = cal = calibration or KuaiRandCalibration()
        self.videos = videos = T.read_videos(self.data_dir)
        self.users = T.read_users(self.data_dir)
        self.topics, topic_index = np.unique(videos.topic_raw, return_inverse=True)
        self.topic_share = np.bincount(topic_index) / topic_index.size
        base = WorldConfig()
        cfg = replace(
            base,
            n_topics=int(self.topics.size),
            n_videos=int(videos.video_id.size),
            n_authors=int(np.unique(videos.author_id).size),
            n_users=int(self.users.user_id.size),
            ev_bias=cal.ev_bias,
            like_bias=cal.like_bias,
            like_slope=cal.like_slope,
            watch_ratio_slope=cal.watch_ratio_slope,
            w_interest=base.w_interest * cal.personalisation,
            w_duration=0.0,
            pool_size=cal.pool_size,
        )
        super().__init__(cfg, world_seed)  # builds (and we then replace) a synthetic catalog
        rng = np.random.default_rng(np.random.SeedSequence([self.world_seed, 0x4B52, 1]))
        authors, author_index = np.unique(videos.author_id, return_inverse=True)
        author_effect = rng.normal(0.0, cfg.author_effect_sd, authors.size)[author_index]
        duration = np.where(np.isnan(videos.duration_s), np.nanmedian(videos.duration_s), videos.duration_s)
        self.duration_imputed = int(np.isnan(videos.duration_s).sum())
        ref_ms = T.date_ms(cal.reference_date)
        self.catalog = Catalog(
            topic=topic_index.astype(np.int64),
            author=videos.author_id,
            quality=rng.beta(2.0, 2.0, videos.video_id.size),
            duration_s=np.maximum(duration, 1.0),
            age_days=np.maximum((ref_ms - videos.upload_ms) / _MS_PER_DAY, 0.0),
            author_effect=author_effect + self.static_offsets(),
        )

    def static_offsets(self) -> np.ndarray:
        """Per-video logit offset: duration bucket + video type + music type."""
        cal, v = self.calibration, self.videos
        return (np.asarray(cal.duration_offsets)[v.duration_bucket]
                + np.asarray(cal.type_offsets)[v.type_group]
                + np.asarray(cal.music_offsets)[v.music_group])

    def user_traits(self, user_id: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        """``user_id`` is a row of the user table (= KuaiRand's id for the full table). As the
        synthetic world's, with interests drawn around the catalog's topic popularity
        (Dirichlet mean = topic share) and the user's activity-group offset added to the bias."""
        if user_id not in self._user_cache:
            cfg = self.config
            if not 0 <= user_id < cfg.n_users:
                raise ValueError(f"`user_id` must be in [0, {cfg.n_users}), got {user_id}")
            rng = np.random.default_rng(np.random.SeedSequence([self.world_seed, 0xA11CE, user_id]))
            alpha = cfg.interest_concentration * cfg.n_topics * self.topic_share
            interest = np.clip(rng.dirichlet(alpha), 1e-4, None)
            interest /= interest.sum()
            stale = np.exp(np.log(interest) + rng.normal(0.0, cfg.stale_noise, cfg.n_topics))
            stale /= stale.sum()
            group = int(self.users.activity_group[user_id])
            bias = float(rng.normal(0.0, cfg.user_bias_sd)) + self.calibration.activity_offsets[group]
            patience = float(rng.normal(0.0, cfg.patience_sd))
            self._user_cache[user_id] = (interest, stale, bias, patience)
        return self._user_cache[user_id]

    def raw_videos(self, page: Page, rows: np.ndarray | None = None) -> RawVideos:
        """As the synthetic world's, with KuaiRand's video id and its first-tag id as the topic (the
        device hashes a missing tag, -1, to the unknown id 0). Catalog index = table row."""
        raw = super().raw_videos(page, rows)
        rows_ = raw.video_id  # catalog rows; the device sees KuaiRand's ids
        fields_ = raw._asdict() | {"video_id": self.videos.video_id[rows_], "topic": self.videos.topic_raw[rows_]}
        return RawVideos(**fields_)  # not _replace: RawVideos overrides __len__, which _replace uses

    def click_probability(self, p_ev: np.ndarray | float, videos: np.ndarray | int) -> np.ndarray:
        return click_probability(p_ev, self.catalog.duration_s[videos], self.config.watch_ratio_slope)

    def clicked(self, watch_s: np.ndarray | float, videos: np.ndarray | int) -> np.ndarray:
        return valid_play(watch_s, self.catalog.duration_s[videos])


def age_days(time_ms: np.ndarray, upload_ms: np.ndarray) -> np.ndarray:
    """Video age in days at ``time_ms`` (never negative)."""
    return np.maximum((np.asarray(time_ms) - np.asarray(upload_ms)) / _MS_PER_DAY, 0.0)

