"""``Heartbeat``: how workers prove they are alive, and when a silent one's trial is retried."""

from __future__ import annotations

from dataclasses import dataclass

from lrtune._checks import is_int


@dataclass(frozen=True)
class Heartbeat:
    """How workers prove they are alive, and when a silent worker's trial is retried.

    Args:
        interval: Seconds between a running trial's heartbeats.
        grace: Seconds without a heartbeat after which the trial is failed and retried.
        max_retry: How many times one configuration is retried (a trial that keeps
            killing its worker, out of memory say, is not retried forever).
    """

    interval: int = 10
    grace: int = 40
    max_retry: int = 3

    def __post_init__(self) -> None:
        for name in ("interval", "grace"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"heartbeat {name} must be a positive integer, not {value!r}.")
        if self.grace <= self.interval:
            raise ValueError(
                f"the grace period ({self.grace} s) must be longer than the heartbeat "
                f"interval ({self.interval} s), or live trials would be failed."
            )
