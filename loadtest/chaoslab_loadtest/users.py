"""The Locust side: command-line flags, the customer user class, and the metrics wiring.

`CustomerUser` is one customer of the lab's cloud: a fixed identity (customer-N), a home
region, a session token from IAM, and a weighted choice of workflows between pauses. Flags
are read once per distinct value (the web UI may change them before a run; workers get the
master's through Locust's spawn message), so weights and targets can be changed per run
without restarting Locust. Metrics: see `metrics.py`.
"""

from __future__ import annotations

import itertools
import logging
import random
import sys
import time
from argparse import Namespace
from typing import Any

import grpc
import locust.runners
from gevent import GreenletExit
from locust import User, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from chaoslab_loadtest import config as config_mod
from chaoslab_loadtest.grpc_client import LocustInterceptor, intercepted
from chaoslab_loadtest.metrics import (
    WIRE_KEY,
    LoadtestCollector,
    WorkflowStats,
    registry_for,
    wsgi_app,
)
from chaoslab_loadtest.resolver import DnsFailure, ResolverCache, ResolvingChannel
from chaoslab_loadtest.workflows import WORKFLOWS, Session
from chaoslab_services import catalog

log = logging.getLogger("chaoslab_loadtest")

# Workers report every second (Locust's default is 3 s), so the master's /metrics, scraped
# every second by the lab's Prometheus, shows a fault's first failures within ~2 s.
locust.runners.WORKER_REPORT_INTERVAL = 1.0

_OPTION_KEYS = ("chaoslab_config", "lab_state", "endpoints", "region", "workflow_weights",
                "customer_dns")


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any, **_: Any) -> None:
    # Locust's own parser, not an argument group: only it knows include_in_web_ui (the web
    # UI shows these fields, so a game day can change weights or region between runs).
    group = parser
    group.add_argument("--chaoslab-config", default="", metavar="FILE",
                       help="YAML overriding chaoslab_loadtest/config.yaml")
    group.add_argument("--lab-state", default="", metavar="FILE",
                       help="take the front doors from a running lab's state.json "
                            "(default from config: .lab/state.json)")
    group.add_argument("--endpoints", default="", metavar="FILE",
                       help="take the front doors from an endpoints YAML {key: {host, port}}")
    group.add_argument("--region", default="",
                       help="customers' home region(s), comma-separated (default from config)")
    group.add_argument("--workflow-weights", default="",
                       help="e.g. signin=3,invoke=5,metrics=2,items=4 (0 disables a workflow)")
    group.add_argument("--customer-dns", default="", choices=("", "resolve", "direct"),
                       help="resolve: customers find the front doors through the lab's DNS "
                            "with an SDK-like cache; direct: dial them as given (default "
                            "from config: resolve)")
    group.add_argument("--metrics-port", type=int, default=0, include_in_web_ui=False,
                       help="serve /metrics for Prometheus on this port (master or standalone)")
    group.add_argument("--metrics-host", default="127.0.0.1", include_in_web_ui=False,
                       help="address for --metrics-port (default: %(default)s)")


_configs: dict[tuple[str, ...], config_mod.LoadConfig] = {}


def config_for(options: Namespace | None) -> config_mod.LoadConfig:
    """The LoadConfig for the current flag values (cached: users start by the hundred)."""
    values = tuple(str(getattr(options, k, "") or "") for k in _OPTION_KEYS)
    cfg = _configs.get(values)
    if cfg is None:
        path, lab_state, endpoints, region, weights, customer_dns = values
        cfg = config_mod.load(path or None, lab_state=lab_state or None,
                              endpoints=endpoints or None, regions=region or None,
                              workflow_weights=weights or None,
                              customer_dns=customer_dns or None)
        _configs[values] = cfg
    return cfg


_resolvers: dict[str, ResolverCache] = {}


def resolver_for(cfg: config_mod.LoadConfig) -> ResolverCache:
    """One resolver cache per DNS server and process, shared by its customers (as a host's
    resolver cache is shared by every SDK client on it)."""
    cache = _resolvers.get(cfg.dns)
    if cache is None:
        cache = _resolvers[cfg.dns] = ResolverCache(
            cfg.dns, max_ttl=cfg.dns_max_ttl, negative_ttl=cfg.dns_negative_ttl,
            timeout=cfg.dns_timeout)
    return cache


class _Lab:
    """Per-process metrics state; one Locust process hosts one environment."""

    stats = WorkflowStats()
    pending = WorkflowStats()  # worker: increments since the last report to the master
    is_worker = False


@events.init.add_listener
def on_init(environment: Environment, runner: Any, **_: Any) -> None:
    options = environment.parsed_options
    if isinstance(runner, WorkerRunner):
        _Lab.is_worker = True

        def report(client_id: str, data: dict[str, Any], **_: Any) -> None:
            data[WIRE_KEY] = _Lab.pending.to_wire()
            _Lab.pending.clear()

        environment.events.report_to_master.add_listener(report)
        return  # flags arrive from the master with the spawn message
    try:
        cfg = config_for(options)  # fail at start, not at the first user, on a bad config
    except (config_mod.ConfigError, OSError) as exc:
        log.error("chaoslab: %s", exc)
        sys.exit(2)
    if options is not None:
        # config.yaml's users/spawn_rate apply where the command line said nothing.
        if getattr(options, "num_users", None) is None:
            options.num_users = cfg.users
        if getattr(options, "spawn_rate", None) is None:
            options.spawn_rate = cfg.spawn_rate
    _Lab.stats.declare(cfg.enabled_workflows(), cfg.regions)
    if isinstance(runner, MasterRunner):
        def merge(client_id: str, data: dict[str, Any], **_: Any) -> None:
            _Lab.stats.merge_wire(data.get(WIRE_KEY, ()))

        environment.events.worker_report.add_listener(merge)
    port = getattr(options, "metrics_port", 0) if options is not None else 0
    if port:
        serve_metrics(environment, getattr(options, "metrics_host", "127.0.0.1"), port)


def serve_metrics(environment: Environment, host: str, port: int) -> None:
    """Starts /metrics on a gevent WSGI server inside the Locust process."""
    from gevent.pywsgi import WSGIServer

    def users() -> int:
        return environment.runner.user_count if environment.runner else 0

    registry = registry_for(LoadtestCollector(_Lab.stats, users))
    app = wsgi_app(registry, ready=lambda: environment.runner is not None)
    server = WSGIServer((host, port), app, log=None)
    server.start()
    log.info("chaoslab: Prometheus metrics on http://%s:%d/metrics", host, port)


def record(workflow: str, region: str, ok: bool, seconds: float) -> None:
    (_Lab.pending if _Lab.is_worker else _Lab.stats).observe(workflow, region, ok, seconds)


_user_numbers = itertools.count(random.randrange(1_000_000))


class CustomerUser(User):
    """One customer: signs in, then runs weighted workflows against the front doors."""

    def wait_time(self) -> float:
        low, high = self.cfg.wait_time
        return random.uniform(low, high)

    def on_start(self) -> None:
        self.cfg = config_for(self.environment.parsed_options)
        number = next(_user_numbers)
        user, secret = self.cfg.customers.identity(number)
        region = self.cfg.regions[number % len(self.cfg.regions)]
        self.interceptor = LocustInterceptor(self.environment.events.request.fire)
        self.session = Session(config=self.cfg, region=region, user=user, secret=secret,
                               channel=self._channel)
        weights = self.cfg.enabled_workflows()
        self._names, self._weights = list(weights), list(weights.values())

    def _channel(self, key: str) -> Any:
        """The front door `key`: dialled as given (direct), or found through the lab's DNS
        at every call (resolve; the target gives only the port)."""
        target = self.cfg.target(key)
        if self.cfg.customer_dns == "direct":
            return intercepted(target, self.interceptor)
        port = int(target.rpartition(":")[2])
        return ResolvingChannel(catalog.BY_KEY[key].fqdn, port, resolver_for(self.cfg),
                                lambda address: intercepted(address, self.interceptor),
                                self._dns_failed)

    def _dns_failed(self, method: str, exc: DnsFailure) -> None:
        """A call that never left the customer still counts in Locust's statistics."""
        self.environment.events.request.fire(
            request_type="grpc", name=f"{self.interceptor.workflow}/{method.rsplit('/', 1)[-1]}",
            response_time=0.0, response_length=0, exception=exc,
            context={"workflow": self.interceptor.workflow})

    @task
    def workflow(self) -> None:
        name = random.choices(self._names, self._weights)[0]
        self.interceptor.workflow = name
        start, ok, abandoned = time.perf_counter(), False, False
        try:
            WORKFLOWS[name](self.session)
            ok = True
        except grpc.RpcError:
            pass  # already reported per call by the interceptor
        except GreenletExit:
            # Locust stopped this customer mid-workflow (fewer users, or the end of the run):
            # the lab did not fail it, so it is neither a success nor a customer error.
            abandoned = True
            raise
        finally:
            if not abandoned:
                record(name, self.session.region, ok, time.perf_counter() - start)
