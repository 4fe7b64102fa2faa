"""DWFM's pure lease/queue model (``chaoslab_services.ec2.dwfm``): units and simulations.

The simulation runs the same ``LeaseBook`` the EC2 process drives, with DynamoDB failing
for 10 s (longer than ``lease_ttl``): the fleet re-leases itself below the collapse
threshold and stays collapsed above it until the throttle is switched on.
"""

from __future__ import annotations

import random

import pytest

from chaoslab_services.common.errors import ConfigError
from chaoslab_services.ec2.dwfm import DwfmPolicy, LeaseBook, simulate

OUTAGE = (5.0, 15.0)


def held_at_end(hosts: int, **kwargs: float) -> tuple[int, int]:
    samples = simulate(DwfmPolicy(hosts=hosts), outage=OUTAGE, duration=60, **kwargs)
    # samples are once a second; lease_ttl (8 s) into the outage every lease has lapsed
    assert samples[int(OUTAGE[0]) + 9][1] == 0
    return samples[-1][1], samples[-1][2]


@pytest.mark.parametrize("hosts", [10, 24, 60])
def test_below_the_threshold_the_fleet_re_leases_itself(hosts):
    assert held_at_end(hosts)[0] == hosts


@pytest.mark.parametrize("hosts", [120, 200, 400])
def test_above_the_threshold_it_stays_collapsed_with_a_full_queue(hosts):
    held, queue = held_at_end(hosts)
    assert held == 0 and queue > DwfmPolicy().collapse_depth


def test_throttling_ends_the_collapse():
    samples = simulate(DwfmPolicy(hosts=200), outage=OUTAGE, duration=75, throttle_at=45)
    assert samples[44][1] == 0                 # collapsed right up to the throttle
    assert samples[-1][1] == 200               # and all leased after it


def test_timed_out_work_is_requeued_and_counted():
    policy = DwfmPolicy(hosts=3, work_timeout=1.0)
    book = LeaseBook(policy, 0.0, random.Random(1))
    book.scan(policy.lease_ttl + 0.1)          # nothing renewed: every lease lapses
    assert book.counters.expired == 3 and len(book.queue) == 3
    work = book.take(10.0)
    assert work is not None and work.kind == "establish"
    assert book.complete(work, 12.0, ok=True) == "timed_out"   # 3.9 s after queueing
    assert book.counters.requeued == 1 and book.queue[-1].host is work.host
    work = book.take(12.0)
    assert book.complete(work, 12.5, ok=True) == "timed_out"
    work = book.take(12.5)
    assert book.complete(work, 12.6, ok=False) == "failed"
    assert work.host.next_try == 12.6 + policy.failure_backoff
    work = book.take(12.6)                     # the re-queued one, now on time
    assert book.complete(work, 12.7, ok=True) == "ok" and book.held(12.7) == 1


def test_the_throttle_trims_the_backlog_and_limits_admission():
    policy = DwfmPolicy(hosts=50, throttle_depth=5)
    book = LeaseBook(policy, 0.0, random.Random(1))
    book.scan(100.0)
    assert len(book.queue) == 50
    assert book.set_throttle(True) == 45 and len(book.queue) == 5
    book.scan(100.1)
    assert len(book.queue) == 5 and book.counters.shed == 45


def test_launches_need_leased_slots():
    policy = DwfmPolicy(hosts=2, slots_per_host=2)
    book = LeaseBook(policy, 0.0, random.Random(1))
    assert len(book.place(3, 0.0) or []) == 3
    assert book.place(2, 0.0) is None          # one slot left
    assert book.place(1, policy.lease_ttl + 1) is None   # leases lapsed: no capacity


@pytest.mark.parametrize(("doc", "needle"), [
    ({"hosts": 0}, "hosts"), ({"workers": "4"}, "workers"), ({"lease_ttl": "0s"}, "lease_ttl"),
    ({"throttle": "yes"}, "throttle"), ({"hostz": 1}, "hostz")])
def test_bad_settings_fail_naming_the_key(doc, needle):
    with pytest.raises(ConfigError, match=needle):
        DwfmPolicy.from_doc(doc)


def test_an_unarmed_book_keeps_its_fleet_until_dynamodb_first_answers():
    """EC2 may come up before its DynamoDB (every tier of a lab starts at once): until the
    first write succeeds no lease ages, so the fleet is not lost to the start-up order."""
    policy = DwfmPolicy(hosts=4)
    book = LeaseBook(policy, 0.0, random.Random(1), armed=False)
    for t in range(1, 31):                     # 30 s of failed renewals
        book.scan(float(t))
        while (work := book.take(float(t))) is not None:
            assert book.complete(work, float(t), ok=False) == "failed"
    assert book.held(30.0) == 4 and book.counters.expired == 0
    assert len(book.place(16, 30.0) or []) == 16   # launches still find leased hosts
    book.scan(31.0)
    work = book.take(31.0)
    assert work is not None and book.complete(work, 31.1, ok=True) == "ok"
    book.scan(39.05)                           # armed: the others aged from 31 s on
    assert book.counters.expired == 3
