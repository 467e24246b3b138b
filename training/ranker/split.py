"""Held-out users: rows are split by user, never by row, so no user's sessions straddle the split."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class UserSplit(NamedTuple):
    """Row indices (ascending) of each part; the parts' user sets are disjoint."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    def users(self, user_id: np.ndarray) -> dict[str, int]:
        return {k: int(np.unique(user_id[v]).size) for k, v in self._asdict().items()}


def split_by_user(user_id: np.ndarray, valid_fraction: float = 0.1, test_fraction: float = 0.2,
                  seed: int = 0) -> UserSplit:
    """Assign each distinct user to train / valid / test (shuffled with ``seed``)."""
    for name, f in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"`{name}` must be in [0, 1), got {f}")
    if valid_fraction + test_fraction >= 1.0:
        raise ValueError(f"`valid_fraction + test_fraction` must be < 1, got "
                         f"{valid_fraction} + {test_fraction}")
    user_id = np.asarray(user_id)
    users = np.unique(user_id)
    if users.size < 3:
        raise ValueError(f"`user_id` must hold at least 3 distinct users to split, got {users.size}")
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0x5B17])).permutation(users)
    n_test = max(1, int(round(test_fraction * users.size))) if test_fraction > 0 else 0
    n_valid = max(1, int(round(valid_fraction * users.size))) if valid_fraction > 0 else 0
    part = np.zeros(users.size, dtype=np.int8)  # 0 train, 1 valid, 2 test (indexed like `users`)
    order = np.searchsorted(users, perm)
    part[order[:n_test]] = 2
    part[order[n_test:n_test + n_valid]] = 1
    row_part = part[np.searchsorted(users, user_id)]
    return UserSplit(*(np.flatnonzero(row_part == k) for k in (0, 1, 2)))
