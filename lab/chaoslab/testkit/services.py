"""A small lab of real processes -- CoreDNS plus service tiers -- for tests and benchmarks.

Not the product's lab runtime (``chaoslab.local``): this is the minimum to exercise the
services end to end, for their tests and benchmarks. CoreDNS is the project's own build at
``.tools/bin/coredns`` (``make tools``); the Corefile uses only stock plugins (``hosts`` for
the records, ``template`` for injected faults) and is reloaded with SIGUSR1, with no
``reload`` or ``health`` plugin (see the coredns#6263 and coredns#1722 pitfalls). Everything
listens on 127.0.0.1 on free ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
from prometheus_client.parser import text_string_to_metric_families

from chaoslab.procs import Proc, free_port
from chaoslab.testkit import coredns
from chaoslab.testkit.coredns import coredns_binary  # noqa: F401 (tests use it here)
from chaoslab_services import catalog


def nodata(name: str) -> str:
    """A Corefile fault: NOERROR with an empty answer for ``name`` (stock ``template``)."""
    return f"    template IN A {name} {{\n        rcode NOERROR\n    }}\n"


def rcode_fault(name: str, rcode: str) -> str:
    """A Corefile fault answering ``rcode`` (NXDOMAIN, SERVFAIL, REFUSED) for ``name``."""
    return f"    template IN A {name} {{\n        rcode {rcode}\n    }}\n"


class CoreDNS:
    """CoreDNS authoritative for ``aws.internal`` from a generated Corefile, started by the
    test kit's one starter (``chaoslab.testkit.coredns``)."""

    def __init__(self, workdir: Path, records: dict[str, Iterable[str]], *, ttl: int = 2,
                 port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.records = {name: list(ips) for name, ips in records.items()}
        self.ttl = ttl
        self.port = port or free_port()
        self.corefile = self.workdir / "Corefile"
        self.log_path = self.workdir / "coredns.log"
        self.server: coredns.CoreDNS | None = None
        self.faults = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def proc(self) -> Proc | None:
        return self.server.proc if self.server else None

    def render(self) -> str:
        lines = [f"        {ip} {name}" for name, ips in sorted(self.records.items())
                 for ip in ips]
        return (f"aws.internal:{self.port} {{\n    bind 127.0.0.1\n    errors\n"
                f"{self.faults}"
                f"    hosts {{\n" + "\n".join(lines) + f"\n        ttl {self.ttl}\n    }}\n}}\n")

    def start(self) -> None:
        self.corefile.write_text(self.render())
        probe = next(iter(self.records))

        def answers(_: coredns.CoreDNS) -> bool:
            rcode, ips = self.query(probe)
            return rcode == "NOERROR" and bool(ips)

        self.server = coredns.start(self.corefile, self.port, ready=answers, timeout=15)

    def query(self, name: str, timeout: float = 1.0) -> tuple[str, list[str]]:
        """(rcode, A addresses) straight from the server, over TCP (no truncation)."""
        q = dns.message.make_query(name, "A")
        r = dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=timeout)
        ips = [rr.address for rrset in r.answer for rr in rrset if hasattr(rr, "address")]
        return dns.rcode.to_text(r.rcode()), ips

    def wait_for(self, name: str, ok: Callable[[str, list[str]], bool],
                 timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.server is not None and not self.server.proc.alive():
                raise RuntimeError(f"coredns exited: {self.log_tail()}")
            try:
                last = self.query(name)
                if ok(*last):
                    return
            except Exception as exc:  # not up yet
                last = exc
            time.sleep(0.05)
        raise TimeoutError(f"DNS never satisfied the check for {name}; last {last!r}; "
                           f"log: {self.log_tail()}")

    def set_faults(self, faults: str, *, probe: str,
                   expect: Callable[[str, list[str]], bool]) -> None:
        """Rewrites the Corefile, reloads with SIGUSR1 and waits until ``probe`` shows it."""
        assert self.server is not None
        self.faults = faults
        self.server.rewrite(self.render())
        self.wait_for(probe, expect)

    def log_tail(self, n: int = 2000) -> str:
        return _tail(self.log_path, n)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class ServiceProcess:
    """One ``python -m chaoslab_services serve`` process."""

    def __init__(self, key: str, name: str, workdir: Path, *, endpoints: Path, dns: str,
                 port: int, profile: str | None = None, policy: Path | None = None,
                 config: Path | None = None, allowed_networks: str | None = None,
                 service: tuple[str, str] | None = None) -> None:
        self.key, self.name = key, name
        self.port = port
        self.http_port = free_port()
        self.log_path = Path(workdir) / f"{name}.log"
        self.cmd = catalog.serve_command(
            key, endpoints=endpoints, dns=dns, listen=f"127.0.0.1:{port}",
            http=f"127.0.0.1:{self.http_port}", profile=profile, policy=policy, config=config,
            allowed_networks=allowed_networks, python=sys.executable) if service is None \
            else _serve_any(service, endpoints=endpoints, dns=dns, port=port,
                            http_port=self.http_port, profile=profile, config=config)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        env = dict(os.environ, GRPC_VERBOSITY="ERROR", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()

    def http(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}",
                                        timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.http("/readyz", timeout=0.5)[0] == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        _status, text = self.http("/metrics")
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    total += sample.value
        return total

    def log_tail(self, n: int = 3000) -> str:
        return _tail(self.log_path, n)

    def stop(self) -> None:
        _terminate(self.proc, grace=8)


class Lab:
    """CoreDNS plus one process per endpoint of ``regions`` (the global iam, sts and signin
    always), on free ports."""

    def __init__(self, workdir: Path, *, regions: tuple[str, ...] = ("us-east-1",),
                 profile: str | None = None, profiles: dict[str, str] | None = None,
                 policies: dict[str, Path] | None = None, configs: dict[str, Path] | None = None,
                 ttl: int = 2, extra_records: dict[str, list[str]] | None = None,
                 only: tuple[str, ...] | None = None, without: tuple[str, ...] = ()) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keys = [e.key for e in catalog.PROCESSES
                     if e.service in catalog.GLOBAL_SERVICES or e.region in regions]
        if only is not None:  # a smaller lab: just these endpoint keys' processes
            self.keys = [k for k in self.keys if k in only]
        # Services left out (e.g. "ec2": its DWFM renews leases in DynamoDB all the time,
        # which a test counting DynamoDB's requests must not see).
        self.keys = [k for k in self.keys if catalog.BY_KEY[k].service not in without]
        self.ports = {key: free_port() for key in self.keys}
        self.endpoints = catalog.write_endpoints(self.workdir / "endpoints.yaml", self.ports)
        records = {e.fqdn: ["127.0.0.1"] for e in catalog.ENDPOINTS}
        records.update(extra_records or {})
        self.dns = CoreDNS(self.workdir, records, ttl=ttl)
        self.profile = profile
        self.profiles = profiles or {}
        self.policies = policies or {}
        self.configs = configs or {}
        self.procs: dict[str, ServiceProcess] = {}

    def process(self, key: str, *, name: str | None = None, port: int | None = None,
                profile: str | None = None, policy: Path | None = None,
                config: Path | None = None, allowed_networks: str | None = None
                ) -> ServiceProcess:
        policy = policy or self.policies.get(key)
        profile = None if policy else (profile or self.profiles.get(key, self.profile))
        return ServiceProcess(
            key, name or key, self.workdir, endpoints=self.endpoints, dns=self.dns.address,
            port=port or self.ports[key], profile=profile, policy=policy,
            config=config or self.configs.get(key), allowed_networks=allowed_networks)

    def start(self) -> Lab:
        self.dns.start()
        for key in self.keys:
            self.procs[key] = self.process(key)
        for proc in self.procs.values():
            proc.start()
        with ThreadPoolExecutor(len(self.procs)) as pool:
            list(pool.map(lambda p: p.wait_ready(), self.procs.values()))
        return self

    def start_extra(self, key: str, name: str, **kwargs: Any) -> ServiceProcess:
        """Another process for ``key`` on its own port (e.g. IAM with another policy);
        callers dial it directly, its dependencies are resolved as usual."""
        proc = self.process(key, name=name, port=free_port(), **kwargs)
        self.procs[name] = proc
        proc.start()
        proc.wait_ready()
        return proc

    def start_service(self, service: str, region: str, name: str, *,
                      config: Path | None = None, profile: str | None = None
                      ) -> ServiceProcess:
        """Another process of any service (e.g. EC2 with its own DWFM sizes), on its own
        port, its dependencies resolved through the lab's DNS."""
        proc = ServiceProcess(f"{service}.{region}", name, self.workdir,
                              endpoints=self.endpoints, dns=self.dns.address, port=free_port(),
                              profile=profile, config=config, service=(service, region))
        self.procs[name] = proc
        proc.start()
        proc.wait_ready()
        return proc

    def address(self, key: str) -> str:
        return self.procs[key].address

    def bootstrap(self, customers: int = 10) -> dict[str, Any]:
        from chaoslab_services.bootstrap import bootstrap

        return asyncio.run(bootstrap(self.endpoints, self.dns.address, customers=customers))

    def customer_tokens(self, customers: int) -> list[str]:
        """An hour-long IAM session token for each of the first `customers` seeded users."""
        import grpc

        from chaoslab_services.bootstrap import customer_credentials
        from chaoslab_services.protos import iam_pb2, iam_pb2_grpc

        with grpc.insecure_channel(self.address("iam")) as channel:
            iam = iam_pb2_grpc.IAMStub(channel)
            return [iam.Authenticate(iam_pb2.AuthenticateRequest(
                user=u, secret=s, duration_seconds=3600), timeout=5).token
                for u, s in map(customer_credentials, range(customers))]

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                proc.stop()
        self.dns.stop()

    def __enter__(self) -> Lab:
        """Started; a start that fails half-way stops what it started (nothing leaks)."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _serve_any(service: tuple[str, str], *, endpoints: Path, dns: str, port: int,
               http_port: int, profile: str | None, config: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "chaoslab_services", "serve", "--service", service[0],
           "--region", service[1], "--listen", f"127.0.0.1:{port}",
           "--http", f"127.0.0.1:{http_port}", "--dns", dns, "--endpoints", str(endpoints)]
    if profile:
        cmd += ["--profile", profile]
    if config:
        cmd += ["--config", str(config)]
    return cmd


def _tail(path: Path, n: int) -> str:
    try:
        return path.read_text()[-n:]
    except OSError:
        return ""


def _terminate(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
