"""The proactive rate budget waits before the provider has to refuse us."""

from sources.common.http import RateBudget


def test_no_wait_while_budget_remains():
    slept = []
    budget = RateBudget(reserve=2, sleep=slept.append)
    budget.observe(remaining=50, interval_s=10)
    for _ in range(5):
        budget.acquire()
    assert slept == []


def test_waits_for_the_oldest_request_to_leave_the_window_when_budget_is_low():
    slept = []
    budget = RateBudget(reserve=2, sleep=slept.append)
    budget.observe(remaining=50, interval_s=10)
    budget.acquire()
    budget.observe(remaining=1, interval_s=10)
    waited = budget.acquire()
    assert 9 < waited <= 10
    assert slept and 9 < slept[0] <= 10


def test_min_interval_paces_a_bucket_without_headers():
    slept = []
    budget = RateBudget(min_interval=0.2, sleep=slept.append)
    budget.acquire()
    budget.acquire()
    assert slept and 0.1 < slept[0] <= 0.2
