"""Pure units of chaoslab_services: parsing, policies, budgets, breakers, caches, capacity."""

from __future__ import annotations

import asyncio
import random

import pytest
import yaml

from chaoslab_services import catalog
from chaoslab_services.bootstrap import FUNCTIONS
from chaoslab_services.common.capacity import Capacity, CapacityPolicy
from chaoslab_services.common.config import (
    available_profiles,
    build_config,
    load_profile,
    parse_duration,
)
from chaoslab_services.common.dns import Answer, DnsCache, DnsError
from chaoslab_services.common.errors import ConfigError
from chaoslab_services.common.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerPolicy,
    BudgetPolicy,
    CircuitBreaker,
    DnsCachePolicy,
    PolicySet,
    RetryBudget,
    RetryPolicy,
)
from chaoslab_services.iam.server import evaluate
from chaoslab_services.lambda_.code import CodeError, parse


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("2s", 2.0), ("1m30s", 90.0), ("1h", 3600.0), (3, 3.0), (0.5, 0.5),
    ("1.5s", 1.5), ("100us", 1e-4), ("100\u00b5s", 1e-4), ("100\u03bcs", 1e-4), ("0", 0.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "abc", "5", "1x", "-1s", True, None, "1s2"])
def test_parse_duration_rejects_and_quotes(bad):
    with pytest.raises(ConfigError) as exc:
        parse_duration(bad, "policy.timeout")
    assert "policy.timeout" in str(exc.value)


def test_every_profile_parses_and_default_exists():
    names = available_profiles()
    assert {"naive", "backoff-jitter", "resilient", "resilient-stale"} <= set(names)
    for name in names:
        PolicySet(load_profile(name), name).for_edge("iam", "dynamodb.us-east-1")
    naive = PolicySet(load_profile("naive")).for_edge("lambda", "iam")
    assert naive.retries.max_attempts == 5 and naive.retries.base_backoff == 0
    assert naive.retry_budget is None and naive.breaker is None and not naive.dns_cache.enabled
    res = PolicySet(load_profile("resilient")).for_edge("lambda", "iam")
    assert res.retry_budget and res.breaker and res.retries.mode == "exponential_full_jitter"
    stale = PolicySet(load_profile("resilient-stale")).for_edge("lambda", "iam")
    assert stale.dns_cache.serve_stale and "nodata" in stale.dns_cache.stale_on


def test_edge_overrides_most_specific_wins():
    doc = {"defaults": {"timeout": "1s"},
           "edges": {"dynamodb.us-east-1": {"timeout": "200ms"},
                     "iam->dynamodb.us-east-1": {"timeout": "300ms"}}}
    ps = PolicySet(doc)
    assert ps.for_edge("lambda", "dynamodb.us-east-1").timeout == 0.2
    assert ps.for_edge("iam", "dynamodb.us-east-1").timeout == 0.3
    assert ps.for_edge("iam", "kms.us-east-1").timeout == 1.0


@pytest.mark.parametrize(("doc", "needle"), [
    ({"defaults": {"timout": "1s"}}, "timout"),
    ({"defaults": {"retries": {"mode": "sometimes"}}}, "retries.mode"),
    ({"defaults": {"breaker": {"open_for": "5s"}}}, "consecutive_failures or failure_rate"),
    ({"defaults": {"dns_cache": {"stale_on": ["weird"]}}}, "stale_on"),
    ({"edges": {"iam": {"retry_budget": {"ratio": -1}}}}, "ratio"),
])
def test_policy_errors_name_the_key(doc, needle):
    with pytest.raises(ConfigError) as exc:
        PolicySet(doc)
    assert needle in str(exc.value)


def test_backoff_modes():
    rng = random.Random(1)
    assert RetryPolicy("fixed", 5, 0.0, 0.0).backoff(3, rng) == 0.0
    exp = RetryPolicy("exponential", 5, 0.1, 0.5)
    assert [exp.backoff(a, rng) for a in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.5]
    jit = RetryPolicy("exponential_full_jitter", 5, 0.1, 1.0)
    samples = [jit.backoff(3, rng) for _ in range(200)]
    assert all(0 <= s <= 0.4 for s in samples) and max(samples) > 0.3 and min(samples) < 0.1


def test_retry_budget_limits_retries_to_a_share():
    clock = Clock()
    budget = RetryBudget(BudgetPolicy(ratio=0.1, min_per_second=0.0, window=10.0), clock)
    for _ in range(100):
        budget.deposit()
    allowed = sum(budget.try_withdraw() for _ in range(50))
    assert allowed == 10
    clock.now += 11  # window slides: old deposits and withdrawals are forgotten
    assert not budget.try_withdraw()


def test_retry_budget_floor():
    budget = RetryBudget(BudgetPolicy(ratio=0.0, min_per_second=1.0, window=5.0), Clock())
    assert sum(budget.try_withdraw() for _ in range(20)) == 5


def test_breaker_consecutive_open_half_open_close():
    clock = Clock()
    states = []
    br = CircuitBreaker(BreakerPolicy(consecutive_failures=3, open_for=5.0, half_open_probes=2),
                        clock, states.append)
    for _ in range(3):
        br.record(br.allow(), False)
    assert br.state == OPEN and br.allow() is None
    clock.now += 5.1
    t1, t2 = br.allow(), br.allow()
    assert br.state == HALF_OPEN and t1 is not None and t2 is not None
    assert br.allow() is None  # only two probes
    br.record(t1, True)
    br.record(t2, True)
    assert br.state == CLOSED and states == [OPEN, HALF_OPEN, CLOSED]


def test_breaker_rate_and_stale_tickets():
    clock = Clock()
    br = CircuitBreaker(BreakerPolicy(failure_rate=0.5, min_requests=10, open_for=1.0), clock)
    old = br.allow()
    for i in range(10):
        br.record(br.allow(), i % 2 == 0)
    assert br.state == OPEN
    clock.now += 1.5
    probe = br.allow()
    br.record(old, True)  # a call from before the trip must not close it
    assert br.state == HALF_OPEN
    br.record(probe, False)
    assert br.state == OPEN


class FakeResolver:
    def __init__(self) -> None:
        self.answer: Answer | DnsError = Answer(("127.0.0.1",), 2.0)
        self.queries = 0

    async def query(self, name: str, lifetime: float) -> Answer:
        self.queries += 1
        if isinstance(self.answer, DnsError):
            raise self.answer
        return self.answer


def _cache(policy: DnsCachePolicy):
    clock, res, results = Clock(), FakeResolver(), []
    return DnsCache(res, policy, results.append, clock), clock, res, results


def test_dns_cache_disabled_always_asks():
    cache, _clock, res, results = _cache(DnsCachePolicy(enabled=False))
    for _ in range(3):
        asyncio.run(cache.lookup("x", 1.0))
    assert res.queries == 3 and results == ["miss"] * 3


def test_dns_cache_ttl_negative_and_stale():
    cache, clock, res, results = _cache(DnsCachePolicy(enabled=True, negative_ttl=3.0))
    run = asyncio.run
    assert run(cache.lookup("x", 1)) == ("127.0.0.1",)
    run(cache.lookup("x", 1))
    assert results == ["miss", "hit"] and res.queries == 1
    clock.now += 2.1
    res.answer = DnsError("nodata", "x")
    with pytest.raises(DnsError):
        run(cache.lookup("x", 1))
    with pytest.raises(DnsError, match="negative cache"):
        run(cache.lookup("x", 1))
    res.answer = Answer(("127.0.0.1",), 2.0)
    clock.now += 2.0
    with pytest.raises(DnsError):  # still inside the negative TTL
        run(cache.lookup("x", 1))
    clock.now += 1.1
    assert run(cache.lookup("x", 1)) == ("127.0.0.1",)
    assert results.count("negative_hit") == 2


def test_dns_cache_serve_stale_within_max_stale_only():
    policy = DnsCachePolicy(enabled=True, serve_stale=True, max_stale=10.0,
                            stale_on=frozenset({"nodata"}), stale_recheck=1.0)
    cache, clock, res, results = _cache(policy)
    run = asyncio.run
    run(cache.lookup("x", 1))
    clock.now += 3
    res.answer = DnsError("nodata", "x")
    assert run(cache.lookup("x", 1)) == ("127.0.0.1",)
    queries = res.queries
    run(cache.lookup("x", 1))  # inside the recheck interval: no new query
    assert res.queries == queries and results[-2:] == ["stale", "stale"]
    res.answer = DnsError("servfail", "x")  # not in stale_on
    clock.now += 1.5
    with pytest.raises(DnsError):
        run(cache.lookup("x", 1))
    res.answer = DnsError("nodata", "x")
    clock.now += 20  # beyond max_stale
    with pytest.raises(DnsError):
        run(cache.lookup("x", 1))


def test_capacity_slots_queue_shed_and_fifo_handover():
    async def scenario():
        cap = Capacity(CapacityPolicy(1, 2, {}))
        assert cap.admit() is True
        w1, w2 = cap.admit(), cap.admit()
        assert not isinstance(w1, bool) and not isinstance(w2, bool)
        assert cap.admit() is False  # queue full: shed
        cap.release()
        assert w1.done() and not w2.done() and cap.inflight == 1
        cap.release()
        cap.release()
        assert cap.inflight == 0 and cap.queued == 0
    asyncio.run(scenario())


def test_capacity_policy_validation():
    p = CapacityPolicy.from_doc({"max_concurrency": 2, "queue_limit": 0,
                                 "service_time": {"default": "2ms", "GetItem": "1ms"}})
    assert p.time_for("GetItem") == 0.001 and p.time_for("PutItem") == 0.002
    with pytest.raises(ConfigError, match="max_concurrency"):
        CapacityPolicy.from_doc({"max_concurrency": 0, "queue_limit": 1})
    with pytest.raises(ConfigError, match="unknown"):
        CapacityPolicy.from_doc({"max_concurrency": 1, "queue_limit": 1, "workers": 3})


def test_config_missing_required_names_flags(tmp_path):
    with pytest.raises(ConfigError) as exc:
        build_config({"service": "iam", "region": "us-east-1"})
    msg = str(exc.value)
    for flag in ("--listen", "--http", "--dns", "--endpoints"):
        assert flag in msg


def test_config_file_and_flags(tmp_path):
    endpoints = catalog.write_endpoints(tmp_path / "e.yaml", default_port=50051)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "service": "iam", "region": "us-east-1", "listen": "127.0.0.1:0",
        "http": "127.0.0.1:0", "dns": "127.0.0.1:53", "endpoints": "e.yaml",
        "profile": "naive", "capacity": {"max_concurrency": 2},
        "settings": {"token_ttl": "1m"}}))
    config = build_config({"config": str(cfg), "profile": "resilient"})
    assert config.policy_name == "resilient"  # the flag wins
    assert config.capacity["max_concurrency"] == 2 and config.capacity["queue_limit"] == 1024
    assert config.settings["token_ttl"] == "1m" and config.settings["kms_key"]
    assert config.endpoints["sts"].port == 50051
    assert endpoints.exists()


def test_catalog_and_write_endpoints(tmp_path):
    keys = {e.key for e in catalog.ENDPOINTS}
    assert {"iam", "sts", "signin", "dynamodb.us-east-1", "lambda.us-west-2", "ec2.us-east-1",
            "ec2.us-west-2"} <= keys
    assert catalog.dependencies("ec2", "us-west-2") == ("dynamodb.us-west-2",)
    assert catalog.BY_KEY["sts"].fqdn == "sts.aws.internal"
    assert catalog.BY_KEY["signin"].fqdn == "signin.aws.internal"
    assert catalog.dependencies("signin", "us-east-1") == ("iam", "sts")
    assert catalog.dependencies("sts", "us-east-1") == ("dynamodb.us-east-1", "kms.us-east-1")
    assert catalog.BY_KEY["iam"].region == "us-east-1"
    ports = {e.key: 40000 + i for i, e in enumerate(catalog.PROCESSES)}
    doc = yaml.safe_load(catalog.write_endpoints(tmp_path / "e.yaml", ports).read_text())
    assert doc["sts"]["port"] == ports["sts"] != doc["iam"]["port"]  # a process of its own
    assert doc["dynamodb.us-west-2"] == {"host": "dynamodb.us-west-2.aws.internal",
                                         "port": ports["dynamodb.us-west-2"]}
    partial = catalog.endpoints_doc({"iam": 1, "sts": 2, "dynamodb.us-east-1": 3})
    assert set(partial) == {"iam", "sts", "dynamodb.us-east-1"} and partial["sts"]["port"] == 2
    with pytest.raises(KeyError):
        catalog.endpoints_doc({})
    assert {"iam", "sts", "signin"} <= {e.key for e in catalog.PROCESSES}
    assert all(catalog.BY_KEY[k].region == "us-east-1" for k in catalog.GLOBAL_SERVICES)
    assert catalog.dependencies("lambda", "us-west-2") == (
        "iam", "sts", "s3.us-west-2", "dynamodb.us-west-2", "cloudwatch.us-west-2")


@pytest.mark.parametrize(("body", "needle"), [
    (b"not json", "not valid JSON"),
    (b'{"ops": []}', "non-empty"),
    (b'{"ops": [{"op": "exec", "code": "rm -rf /"}]}', "'op' must be one of"),
    (b'{"ops": [{"op": "get", "table": "t"}]}', "missing ['pk']"),
    (b'{"ops": [{"op": "return", "attributes": {"a": "${nope.x}"}}]}', "not bound"),
    (b'{"ops": [{"op": "get", "table": "bad table", "pk": "x"}]}', "table"),
])
def test_function_code_rejects(body, needle):
    with pytest.raises(CodeError) as exc:
        parse(body)
    assert needle in str(exc.value)


def test_bootstrap_functions_parse():
    import json

    for body in FUNCTIONS.values():
        parse(json.dumps(body).encode())


def test_missing_coredns_fails_naming_make_tools(monkeypatch, tmp_path):
    from chaoslab.testkit import services as testlab
    from chaoslab.toolpaths import REPO_ROOT

    monkeypatch.setenv("CHAOSLAB_COREDNS", str(tmp_path / "nope"))
    with pytest.raises(RuntimeError, match="make tools"):
        testlab.coredns_binary()
    monkeypatch.delenv("CHAOSLAB_COREDNS")
    assert testlab.coredns_binary() == REPO_ROOT / ".tools" / "bin" / "coredns"


def test_iam_policy_evaluation():
    policy = [{"effect": "Allow", "actions": ["lambda:*"], "resources": ["*"]},
              {"effect": "Deny", "actions": ["lambda:CreateFunction"], "resources": ["*"]}]
    assert evaluate(policy, "lambda:InvokeFunction", "arn:x")[0]
    assert not evaluate(policy, "lambda:CreateFunction", "arn:x")[0]
    assert not evaluate(policy, "s3:GetObject", "arn:x")[0]
