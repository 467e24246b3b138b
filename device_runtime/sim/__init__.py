"""The simulator beside the device core: numpy only, TensorFlow-free, installable on a Pi.

| module | holds |
|---|---|
| ``world`` | the synthetic worlds, legacy and long-term (users, intent, responses, episodes, the server's pages, the exact ListReward oracle) |
| ``kuairand_world``, ``kuairand_tables``, ``kuairand_calibration`` | the real-catalogue world and its fit to KuaiRand |
| ``rollout`` | one simulated session through the device's own ``SessionState`` (``Impression`` records) |
| ``emulator`` | paired sessions of several strategies through the real ``Reranker``/``DeviceFeed`` |
| ``replay`` | an event log back into impressions (what the device held at every choice) |
| ``policy_env`` | the world as an RL environment over the device's view |
| ``world_stats`` | world calibration figures and interval helpers |
| ``headroom`` | the world's oracles (``oracle_myopic``, ``oracle_lookahead``) and the planning headroom |
| ``samples`` | stacked rerank inputs snapshotted from simulated sessions (sample inputs, benchmarks) |

The rule: ``device_runtime``'s core never imports this package (a test parses every import).
"""
