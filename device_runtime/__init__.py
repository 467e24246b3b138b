"""ReelRank's device runtime: what an app ships (numpy + LiteRT, no TensorFlow).

The public API, in the order an app meets it::

    from device_runtime import DeviceFeed, Reranker, RerankerConfig
    reranker = Reranker("artifact_dir", RerankerConfig(threads=1))   # never raises; see .ok / .error
    feed = DeviceFeed(reranker, "adaptive_beam")                       # one user session
    feed.page_arrived(videos)                                          # a server page, as RawVideos
    i = feed.next_index()                                              # cache index to show next

``Reranker.rerank(state)`` reranks a ``SessionState``'s page cache; ``Reranker.rerank_inputs``
reranks contract tensors an app built itself. Whatever goes wrong, the server order is served
with a typed ``FallbackReason``. Module paths (``device_runtime.reranker``, ``.features``,
``.session``, ``.validation``, ``.contract``, …) stay importable as they are.

The simulator lives beside the core in ``device_runtime.sim``; nothing here imports it.
"""

from device_runtime.artifact import ArtifactError, load_manifest
from device_runtime.contract import SCHEMA_VERSION, Dims
from device_runtime.events import EventLog, FsyncPolicy, ReadReport, group_sessions, read_events
from device_runtime.features import Feedback, RawVideos
from device_runtime.feed import DeviceFeed, SessionMetrics
from device_runtime.reranker import Reranker, RerankerConfig, RerankResult
from device_runtime.session import PagingConfig, SessionState
from device_runtime.strategies import (
    RerankInputs,
    SearchParams,
    Strategy,
    StrategyOutput,
    get_strategy,
    register_strategy,
)
from device_runtime.triggers import Trigger, TriggerConfig
from device_runtime.validation import FallbackReason

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactError",
    "DeviceFeed",
    "Dims",
    "EventLog",
    "FallbackReason",
    "Feedback",
    "FsyncPolicy",
    "PagingConfig",
    "RawVideos",
    "ReadReport",
    "RerankInputs",
    "RerankResult",
    "Reranker",
    "RerankerConfig",
    "SearchParams",
    "SessionMetrics",
    "SessionState",
    "Strategy",
    "StrategyOutput",
    "Trigger",
    "TriggerConfig",
    "get_strategy",
    "group_sessions",
    "load_manifest",
    "read_events",
    "register_strategy",
]
