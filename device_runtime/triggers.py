"""When the device reranks (Kuaishou, CIKM 2022): when the user swipes to the next video, and when
they like (or share) one. A page arriving adds candidates, so the next choice must see them too.

Triggers are *recorded* by the events that cause them and the rerank runs when the next video is
needed, so a swipe and the page that arrives with it cost one rerank, not two. A like reranks at
once (``eager``): in an app the next video is prepared while the liked one still plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Trigger(StrEnum):
    """What caused a rerank."""

    START = "start"  # the first video of a session
    SWIPE = "swipe"  # video_finished / skipped: the user moves to the next video
    LIKE = "like"  # liked (or shared) the playing video
    PAGE = "page_arrived"  # new candidates from the server


@dataclass(frozen=True)
class TriggerConfig:
    """Which events rerank the cache."""

    on_swipe: bool = True
    """Rerank when the user swipes to the next video (Kuaishou: yes)."""
    on_like: bool = True
    """Rerank as soon as the user likes the playing video (Kuaishou: yes)."""
    on_page: bool = True
    """Rerank when a server page arrives (else new candidates wait for the next swipe or like)."""

    def fires(self, trigger: Trigger) -> bool:
        return {Trigger.START: True, Trigger.SWIPE: self.on_swipe, Trigger.LIKE: self.on_like,
                Trigger.PAGE: self.on_page}[trigger]
