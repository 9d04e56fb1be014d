"""The queue's tunables, as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    max_retries: int = 2  # MAX_RETRIES: requeues after a lost lease before the job fails
    lease_timeout: timedelta = timedelta(seconds=300)  # TIMEOUT_FAILURE
    retry_different: bool = True  # RETRY_DIFFERENT: never hand a job to a worker that tried it
    max_pull: int = 100  # most jobs one pull may claim
