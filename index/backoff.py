"""Stage: a failure count -> how long to wait before the next try. Side effects: none.

The one exponential backoff of the project: feeds that fail (index/ingest.py), alerts and feed
notices that a chat refused (bot/core/delivery.py, bot/core/feedhealth.py).
"""

from __future__ import annotations

import random


def backoff(
    attempt: int,
    base_s: float,
    max_s: float,
    *,
    jitter: bool = True,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the `attempt`-th failure in a row: `base_s` doubled per failure
    after the first, capped at `max_s`; with `jitter`, drawn uniformly from [delay/2, delay] so
    that what failed together does not retry together."""
    delay = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(delay / 2, delay) if jitter else delay
