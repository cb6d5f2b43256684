"""The one exponential backoff (index/backoff.py)."""

from __future__ import annotations

import random

import pytest

from index.backoff import backoff


def test_without_jitter_the_delay_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [backoff(n, 30.0, 3600.0, jitter=False) for n in range(0, 10)]
    assert delays == [30.0, 30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0]


@pytest.mark.parametrize("attempt", [1, 2, 5, 40])
def test_jitter_draws_between_half_the_delay_and_the_delay(attempt: int) -> None:
    rng = random.Random(7)
    delay = backoff(attempt, 60.0, 21600.0, jitter=False)
    drawn = [backoff(attempt, 60.0, 21600.0, rng=rng) for _ in range(200)]
    assert all(delay / 2 <= d <= delay for d in drawn)
    assert len(set(drawn)) > 100  # spread out, not one value


def test_the_same_generator_state_gives_the_same_delay() -> None:
    assert backoff(3, 30.0, 3600.0, rng=random.Random(1)) == backoff(
        3, 30.0, 3600.0, rng=random.Random(1)
    )
    assert backoff(3, 30.0, 3600.0, rng=random.Random(1)) == random.Random(1).uniform(60, 120)
