"""Matching rules (domain/matching.py): hardware, environment, retry-different, order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.jobs import Environment, Hardware, Status
from domain.matching import WorkerOffer, claim_order, environment_allows, fits, matches
from tests.unit.factories import T0, job

CLOUD, LOCAL = Environment.CLOUD, Environment.LOCAL


def offer(**kwargs: object) -> WorkerOffer:
    base: dict[str, object] = {"worker": "gpu-1", "environment": LOCAL}
    return WorkerOffer(**(base | kwargs))  # type: ignore[arg-type]


def test_a_job_without_requirements_fits_the_smallest_offer() -> None:
    assert fits(job(), offer(cpu_cores=0, memory=0, gpu_mem=0))


@pytest.mark.parametrize(
    ("need", "have", "ok"),
    [
        ({"cpu_cores": 4}, {"cpu_cores": 4}, True),
        ({"cpu_cores": 4}, {"cpu_cores": 3}, False),
        ({"memory": 8000}, {"memory": 8001}, True),
        ({"memory": 8000}, {"memory": 7999}, False),
        ({"gpu_mem": 16}, {"gpu_mem": 16}, True),
        ({"gpu_mem": 16}, {"gpu_mem": 8}, False),
        ({"gpu_model": "A100"}, {"gpu_model": "A100"}, True),
        ({"gpu_model": "A100"}, {"gpu_model": "V100"}, False),
        ({"gpu_model": "A100"}, {}, False),
        ({"gpu_archi": "ampere"}, {"gpu_archi": "ampere"}, True),
        ({"gpu_archi": "ampere"}, {"gpu_archi": "volta"}, False),
        ({}, {"gpu_model": "A100", "gpu_archi": "ampere"}, True),
    ],
)
def test_hardware_rules(need: dict[str, object], have: dict[str, object], ok: bool) -> None:
    assert fits(job(hardware=Hardware(**need)), offer(**have)) is ok  # type: ignore[arg-type]


@pytest.mark.parametrize("env", [CLOUD, LOCAL])
def test_a_pinned_job_goes_to_its_environment_at_once_whatever_older_than(
    env: Environment,
) -> None:
    pinned = job(environment=env, created_at=T0)
    assert environment_allows(pinned, offer(environment=env, older_than=3600), T0)
    other = CLOUD if env is LOCAL else LOCAL
    assert not environment_allows(pinned, offer(environment=other, older_than=0), T0)
    assert not environment_allows(pinned, offer(environment=other), T0 + timedelta(days=365))


@pytest.mark.parametrize("env", [CLOUD, LOCAL])
def test_a_job_for_any_environment_waits_for_older_than(env: Environment) -> None:
    free = job(environment=None, created_at=T0)
    worker = offer(environment=env, older_than=60)
    assert not environment_allows(free, worker, T0 + timedelta(seconds=59))
    assert environment_allows(free, worker, T0 + timedelta(seconds=60))
    assert environment_allows(free, offer(environment=env, older_than=0), T0)


def test_matches_needs_queued_status() -> None:
    j = job()
    assert matches(j, offer(), T0, retry_different=True)
    for status in Status:
        if status is not Status.QUEUED:
            j.status = status
            assert not matches(j, offer(), T0, retry_different=True)


def test_retry_different_excludes_exact_previous_workers_only() -> None:
    j = job()
    j.tried_by = frozenset({"gpu-1"})
    assert not matches(j, offer(worker="gpu-1"), T0, retry_different=True)
    assert matches(j, offer(worker="gpu-1"), T0, retry_different=False)
    # Exact identity, not substring matching (DECODE's bug).
    assert matches(j, offer(worker="gpu-10"), T0, retry_different=True)
    assert matches(j, offer(worker="gpu-"), T0, retry_different=True)


def test_matches_combines_hardware_and_environment() -> None:
    j = job(hardware=Hardware(gpu_mem=16), environment=CLOUD)
    assert matches(j, offer(environment=CLOUD, gpu_mem=16), T0, retry_different=True)
    assert not matches(j, offer(environment=CLOUD, gpu_mem=8), T0, retry_different=True)
    assert not matches(j, offer(environment=LOCAL, gpu_mem=16), T0, retry_different=True)


def test_claim_order_groups_then_priority_then_age_then_id() -> None:
    worker = offer(groups=frozenset({"lab"}))
    later = T0 + timedelta(seconds=1)
    jobs = {
        "other-group-top-priority": job(1, group="other", priority=99),
        "lab-low-priority": job(2, group="lab", priority=1),
        "lab-high-priority-newer": job(3, group="lab", priority=9, created_at=later),
        "lab-high-priority-older": job(4, group="lab", priority=9),
        "lab-high-priority-older-higher-id": job(5, group="lab", priority=9),
        "no-group-mid-priority": job(6, priority=5),
    }
    ordered = sorted(jobs, key=lambda name: claim_order(jobs[name], worker))
    assert ordered == [
        "lab-high-priority-older",
        "lab-high-priority-older-higher-id",
        "lab-high-priority-newer",
        "lab-low-priority",
        "other-group-top-priority",
        "no-group-mid-priority",
    ]


def test_the_any_environment_cutoff() -> None:
    assert offer(older_than=90).any_environment_cutoff(T0) == T0 - timedelta(seconds=90)


sizes = st.integers(min_value=0, max_value=64)


@given(need=sizes, have=sizes, more=st.integers(min_value=0, max_value=8))
def test_a_bigger_offer_fits_whatever_a_smaller_one_fits(need: int, have: int, more: int) -> None:
    j = job(hardware=Hardware(cpu_cores=need, memory=need, gpu_mem=need))
    small = offer(cpu_cores=have, memory=have, gpu_mem=have)
    big = offer(cpu_cores=have + more, memory=have + more, gpu_mem=have + more)
    assert fits(j, small) is (need <= have)
    if fits(j, small):
        assert fits(j, big)
