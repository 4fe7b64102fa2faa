"""Health-checked failover's policy, table-driven and without I/O (`nlb.policy`).

The property the live test checks against CoreDNS holds here for every round: with the
velocity limit on, no window of `interval` sees more than `max_removed_share` of the group
removed; with it off, a group whose probes all fail leaves DNS empty.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys

import pytest
import yaml

from chaoslab_services.common.errors import ConfigError
from chaoslab_services.nlb import policy as pol

T8 = tuple(f"127.0.0.{i}" for i in range(11, 19))
LIMITED = pol.FailoverPolicy(velocity_limit=pol.VelocityLimit(0.25, 10.0))
UNLIMITED = pol.FailoverPolicy(velocity_limit=None)


def run(policy: pol.FailoverPolicy, rounds: list[dict[str, bool]], targets=T8, start=0.0,
        step=1.0) -> list[pol.Decision]:
    state, out = pol.initial(targets), []
    for i, probes in enumerate(rounds):
        d = pol.decide(policy, state, probes, start + i * step)
        state = d.state
        out.append(d)
    return out


def all_(ok: bool, targets=T8) -> dict[str, bool]:
    return dict.fromkeys(targets, ok)


@pytest.mark.parametrize(("name", "policy", "rounds", "in_dns", "removed", "refused"), [
    ("one failure is not enough", UNLIMITED, [all_(False)], 8, 0, 0),
    ("two in a row remove all, unlimited", UNLIMITED, [all_(False)] * 2, 0, 8, 0),
    ("limit: a quarter of 8 per window", LIMITED, [all_(False)] * 2, 6, 2, 6),
    ("limit holds for the rest of the window", LIMITED, [all_(False)] * 9, 6, 0, 6),
    ("window rolls over: two more", LIMITED, [all_(False)] * 12, 4, 2, 4),
    ("healthy group untouched", LIMITED, [all_(True)] * 5, 8, 0, 0),
    ("share 0 removes nothing", pol.FailoverPolicy(velocity_limit=pol.VelocityLimit(0, 10)),
     [all_(False)] * 3, 8, 0, 8),
])
def test_decide_table(name, policy, rounds, in_dns, removed, refused) -> None:
    last = run(policy, rounds)[-1]
    assert (len(last.state.in_dns), len(last.removed), len(last.refused)) == \
        (in_dns, removed, refused), name


def test_longest_failing_goes_first_and_the_budget_is_shared_with_the_truly_down() -> None:
    down = T8[5]
    rounds = [{**all_(True), down: False}, {**all_(True), down: False}]  # down: removed
    rounds += [{**all_(False), down: False}] * 2                          # the rest fail
    ds = run(LIMITED, rounds)
    assert ds[1].removed == (down,)
    assert ds[3].removed == (T8[0],)            # budget 2: one left, lowest order first
    assert down not in ds[3].state.in_dns and len(ds[3].state.in_dns) == 6


def test_recovered_targets_return_without_limit_after_healthy_threshold() -> None:
    ds = run(UNLIMITED, [all_(False), all_(False), all_(True), all_(True)])
    assert len(ds[2].state.in_dns) == 0          # one pass is not healthy yet
    assert len(ds[3].restored) == 8 and ds[3].state.in_dns == frozenset(T8)


def test_disabled_failover_puts_every_target_back_and_removes_none() -> None:
    state = run(UNLIMITED, [all_(False)] * 2)[-1].state
    d = pol.decide(UNLIMITED, pol.set_enabled(state, False), all_(False), 3.0)
    assert d.state.in_dns == frozenset(T8) and len(d.restored) == 8 and not d.removed


def test_missing_probe_keeps_the_streak() -> None:
    ds = run(UNLIMITED, [all_(False), {}, all_(False)])
    assert not ds[1].removed and len(ds[2].removed) == 8


def test_random_rounds_never_remove_more_than_the_budget_per_window() -> None:
    rng = random.Random(7)
    for trial in range(50):
        limit = pol.VelocityLimit(rng.choice([0.1, 0.25, 0.5]), rng.choice([3.0, 10.0]))
        policy = pol.FailoverPolicy(velocity_limit=limit)
        rounds = [{t: rng.random() < 0.3 for t in T8} for _ in range(60)]
        ds = run(policy, rounds, step=0.5)
        times = [i * 0.5 for i, d in enumerate(ds) for _ in d.removed]
        budget = limit.budget(8)
        for t in times:
            in_window = [u for u in times if t - limit.interval < u <= t]
            assert len(in_window) <= budget, (trial, t)


@pytest.mark.parametrize(("doc", "key"), [
    ({"check_interval": "soon"}, "failover.check_interval"),
    ({"timeout": 0}, "failover.timeout"),
    ({"timeout": "2s"}, "failover.timeout"),   # longer than check_interval 1s
    ({"unhealthy_threshold": 0}, "failover.unhealthy_threshold"),
    ({"healthy_threshold": True}, "failover.healthy_threshold"),
    ({"ttl": "1"}, "failover.ttl"),
    ({"velocity": {}}, "unknown key(s) ['velocity']"),
    ({"velocity_limit": {"max_removed_share": 1.5}}, "failover.velocity_limit.max_removed_share"),
    ({"velocity_limit": {"interval": "-1s"}}, "failover.velocity_limit.interval"),
    ({"velocity_limit": {"share": 0.2}}, "failover.velocity_limit: unknown key(s) ['share']"),
    ({"velocity_limit": "on"}, "failover.velocity_limit"),
])
def test_config_errors_name_the_key(doc, key) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        pol.FailoverPolicy.from_doc(doc)


def test_config_values_and_switching_the_limit_off() -> None:
    p = pol.FailoverPolicy.from_doc({"check_interval": "500ms", "timeout": "300ms",
                                     "velocity_limit": {"max_removed_share": 0.5,
                                                        "interval": "1m"}})
    assert (p.check_interval, p.timeout) == (0.5, 0.3)
    assert p.velocity_limit == pol.VelocityLimit(0.5, 60.0)
    assert pol.FailoverPolicy.from_doc({}).velocity_limit == pol.VelocityLimit(0.25, 10.0)
    for off in (None, False):
        assert pol.FailoverPolicy.from_doc({"velocity_limit": off}).velocity_limit is None


def test_budget_floors_so_the_promised_share_is_kept() -> None:
    assert [pol.VelocityLimit(0.25).budget(n) for n in (3, 4, 8, 10)] == [0, 1, 2, 2]


def test_zone_text_has_soa_with_negative_ttl_and_one_a_per_target() -> None:
    text = pol.zone_text("nlb.us-east-1.aws.internal", ["127.0.0.11", "127.0.0.12"], 42, 1)
    assert "$ORIGIN nlb.us-east-1.aws.internal." in text
    assert " 42 1 1 60 1\n" in text and text.count(" IN A 127.0.0.1") == 3  # + the ns record
    assert "@ 1 IN A" not in pol.zone_text("x.aws.internal", [], 1, 1)


@pytest.mark.parametrize(("config", "extra", "named"), [
    ({"failover": {"velocity_limit": {"max_removed_share": 2}}}, [],
     "failover.velocity_limit.max_removed_share"),
    ({"failover": {}, "velocity_limit": None}, [], "--config"),
    ({"failover": {}}, ["--targets", "10.0.0.1"], "--targets"),
    ({"failover": {}}, ["--zone-file", "/nonexistent/dir/z.db"], "--zone-file"),
])
def test_checker_refuses_bad_settings_at_start_naming_them(tmp_path, config, extra,
                                                           named) -> None:
    """Exit 2 before anything listens or is written, as `serve` does."""
    path = tmp_path / "failover.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = ["--name", "nlb.us-east-1.aws.internal", "--targets", "127.0.0.201", "--port",
            "8080", "--zone-file", str(tmp_path / "z.db"), "--http", "127.0.0.1:0",
            "--config", str(path), *extra]
    out = subprocess.run([sys.executable, "-m", "chaoslab_services.nlb", "checker", *argv],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and named in out.stderr, out.stderr
    assert not (tmp_path / "z.db").exists()
