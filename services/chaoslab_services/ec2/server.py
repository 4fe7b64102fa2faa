"""EC2 stand-in: launches need a host whose DWFM lease is held; leases live in DynamoDB.

``RunInstances`` places instances on leased hosts with a free slot, else answers
RESOURCE_EXHAUSTED "InsufficientInstanceCapacity" -- what customers saw on 2025-10-20
while DWFM's leases were gone and again while it was collapsed. Instances are EC2's own
state (in memory): running ones keep running and keep their metadata without a lease;
``TerminateInstances`` frees their slots (so a customer launching and terminating all day
does not fill the fleet).
DWFM (``dwfm.LeaseBook``) is driven here: a scanner every ``tick`` and ``workers`` tasks
that write each lease to ``dynamodb.<region>`` (table ``ec2-dwfm-leases``) and then hold
the host handshake for the work's time. HTTP on ``--http``: instance metadata under
``/latest/meta-data/`` (``?instance=<id>`` names the caller: every instance of the process
shares one loopback address), ``GET /dwfm`` (JSON state) and ``POST /dwfm/throttle?
enabled=true|false`` (the mitigation, at run time).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from chaoslab_services.common import validation as v
from chaoslab_services.common.deps import DependencyError
from chaoslab_services.common.errors import ServiceError, invalid, not_found
from chaoslab_services.common.server import Runtime, rpc
from chaoslab_services.common.tables import Tables
from chaoslab_services.ec2.dwfm import DwfmPolicy, LeaseBook, Work
from chaoslab_services.protos import ec2_pb2 as pb
from chaoslab_services.protos import ec2_pb2_grpc as pb_grpc

LEASES = "ec2-dwfm-leases"
IMAGE_RE = re.compile(r"ami-[0-9a-f]{8,17}")
INSTANCE_RE = re.compile(r"i-[0-9a-f]{17}")
INSTANCE_TYPES = ("t3.micro", "t3.small", "m5.large", "c5.xlarge")
MAX_COUNT = 20
MAX_IDS = 1000
META_KEYS = ("ami-id", "instance-id", "instance-type", "local-ipv4", "hostname",
             "placement/availability-zone", "placement/region")


@dataclass
class _Instance:
    id: str
    image: str
    type: str
    host: str
    az: str
    ip: str
    launched: float
    tags: dict[str, str] = field(default_factory=dict)

    def proto(self) -> pb.Instance:
        return pb.Instance(instance_id=self.id, image_id=self.image, instance_type=self.type,
                           host_id=self.host, state="running", availability_zone=self.az,
                           private_ip=self.ip, launch_time=self.launched, tags=self.tags)

    def meta(self, key: str, region: str) -> str | None:
        return {"ami-id": self.image, "instance-id": self.id, "instance-type": self.type,
                "local-ipv4": self.ip, "hostname": f"ip-{self.ip.replace('.', '-')}.ec2.internal",
                "placement/availability-zone": self.az, "placement/region": region}.get(key)


class DwfmCollector:
    """DWFM's state as metrics, read from the book at scrape time."""

    def __init__(self, book: LeaseBook, service: str, region: str) -> None:
        self.book, self.labels = book, [service, region]

    def collect(self) -> Iterator[Any]:
        book, c, now, base = self.book, self.book.counters, time.monotonic(), ["service", "region"]
        held = book.held(now)
        leases = GaugeMetricFamily("chaoslab_service_dwfm_leases",
                                   "DWFM host leases by state: held | expired (no lease).",
                                   labels=[*base, "state"])
        leases.add_metric([*self.labels, "held"], held)
        leases.add_metric([*self.labels, "expired"], len(book.hosts) - held)
        yield leases
        yield _gauge("chaoslab_service_dwfm_queue_depth", "DWFM work items waiting.",
                     self.labels, len(book.queue))
        yield _gauge("chaoslab_service_dwfm_throttle",
                     "1 while the mitigation (queue-size-based admission) is on.",
                     self.labels, 1 if book.throttle else 0)
        work = CounterMetricFamily(
            "chaoslab_service_dwfm_work",
            "DWFM work finished, by kind (renew|establish) and result: ok | failed (the "
            "DynamoDB write failed) | timed_out (done after work_timeout; discarded).",
            labels=[*base, "kind", "result"])
        for result, by_kind in (("ok", c.ok), ("failed", c.failed), ("timed_out", c.timed_out)):
            for kind, n in by_kind.items():
                work.add_metric([*self.labels, kind, result], n)
        yield work
        for name, doc, value in (
                ("chaoslab_service_dwfm_requeued", "Timed-out work queued again.", c.requeued),
                ("chaoslab_service_dwfm_leases_expired",
                 "Leases lost because no renewal succeeded within lease_ttl.", c.expired),
                ("chaoslab_service_dwfm_shed",
                 "Queued work returned to the pool when the throttle was switched on.", c.shed)):
            counter = CounterMetricFamily(name, doc, labels=base)
            counter.add_metric(self.labels, value)
            yield counter


def _gauge(name: str, doc: str, labels: list[str], value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["service", "region"])
    g.add_metric(labels, value)
    return g


class EC2Servicer(pb_grpc.EC2Servicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.region = runtime.region
        self.policy = DwfmPolicy.from_doc(dict(runtime.settings.get("dwfm") or {}),
                                          "settings.dwfm")
        # Unarmed: leases age only once DynamoDB has answered (a lab starts its tiers together).
        self.book = LeaseBook(self.policy, time.monotonic(), prefix=f"h-{self.region}",
                              armed=False)
        self.tables = Tables(runtime, f"dynamodb.{self.region}")
        self.instances: dict[str, _Instance] = {}
        self._hosts = {h.id: h for h in self.book.hosts}
        self._wake = asyncio.Event()
        runtime.metrics.registry.register(DwfmCollector(self.book, runtime.service, self.region))
        runtime.background(self.scanner)
        for _ in range(self.policy.workers):
            runtime.background(self.worker)
        runtime.http_routes["/latest/meta-data"] = self.metadata
        runtime.http_routes["/dwfm"] = self.admin

    # --- DWFM ---------------------------------------------------------------------------
    async def scanner(self) -> None:
        while True:
            self.book.scan(time.monotonic())
            if self.book.queue:
                self._wake.set()
            await asyncio.sleep(self.policy.tick)

    async def worker(self) -> None:
        while True:
            work = self.book.take(time.monotonic())
            if work is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            ok = await self._lease(work)
            if ok:
                await asyncio.sleep(self.book.work_time(work))
            self.book.complete(work, time.monotonic(), ok)

    async def _lease(self, work: Work) -> bool:
        expires = time.time() + self.policy.lease_ttl
        try:
            await self.tables.put(LEASES, work.host.id, {
                "owner": f"dwfm.{self.region}", "expires_at": f"{expires:.3f}",
                "kind": work.kind})
        except DependencyError:
            return False
        return True

    def set_throttle(self, on: bool) -> int:
        shed = self.book.set_throttle(on)
        self.runtime.log.warning("dwfm throttle switched", extra={"enabled": on, "shed": shed})
        return shed

    def status(self) -> dict[str, Any]:
        now, c = time.monotonic(), self.book.counters
        return {"hosts": len(self.book.hosts), "held": self.book.held(now),
                "armed": self.book.armed,  # leases age (DynamoDB has answered once)
                "queue_depth": len(self.book.queue), "throttle": self.book.throttle,
                "collapse_depth": round(self.policy.collapse_depth, 1),
                "ok": c.ok, "failed": c.failed, "timed_out": c.timed_out,
                "requeued": c.requeued, "expired": c.expired, "shed": c.shed}

    def admin(self, method: str, path: str, query: str) -> tuple[int, str, bytes]:
        if path == "/dwfm" and method in ("GET", "HEAD"):
            return 200, "application/json", json.dumps(self.status()).encode() + b"\n"
        if path == "/dwfm/throttle" and method == "POST":
            value = urllib.parse.parse_qs(query).get("enabled", [""])[0].lower()
            if value not in ("true", "false", "1", "0"):
                return 400, "text/plain", b"enabled: give true or false\n"
            self.set_throttle(value in ("true", "1"))
            return 200, "application/json", json.dumps(self.status()).encode() + b"\n"
        return 404, "text/plain", b"not found: GET /dwfm, POST /dwfm/throttle?enabled=true\n"

    # --- instance metadata --------------------------------------------------------------
    def metadata(self, method: str, path: str, query: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        key = path[len("/latest/meta-data"):].strip("/")
        if not key:
            return 200, "text/plain", ("\n".join(META_KEYS) + "\n").encode()
        ident = urllib.parse.parse_qs(query).get("instance", [""])[0]
        if not ident:
            return 400, "text/plain", b"instance: required (?instance=i-...)\n"
        inst = self.instances.get(ident)
        if inst is None:
            return 404, "text/plain", f"instance {ident[:32]!r} not found\n".encode()
        value = inst.meta(key, self.region)
        if value is None:
            return 404, "text/plain", f"no such metadata key {key[:64]!r}\n".encode()
        return 200, "text/plain", value.encode()

    # --- API ----------------------------------------------------------------------------
    @rpc
    async def RunInstances(self, request: pb.RunInstancesRequest) -> pb.RunInstancesResponse:
        if not IMAGE_RE.fullmatch(request.image_id):
            raise invalid("image_id", f"malformed image id {request.image_id[:64]!r}: "
                                      "use 'ami-' and 8..17 hex digits")
        itype = request.instance_type or "t3.micro"
        v.one_of("instance_type", itype, INSTANCE_TYPES)
        count = request.count or 1
        if count > MAX_COUNT:
            raise invalid("count", f"must be <= {MAX_COUNT}, got {count}")
        v.string_map("tags", request.tags, total_limit=64 * 1024)
        hosts = self.book.place(count, time.monotonic())
        if hosts is None:
            raise ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"InsufficientInstanceCapacity: no leased host has room for "
                               f"{count} {itype} in {self.region} "
                               f"({self.book.held(time.monotonic())} of "
                               f"{len(self.book.hosts)} hosts leased)")
        out = pb.RunInstancesResponse()
        now = time.time()
        for n, host in enumerate(hosts):
            ident = "i-" + secrets.token_hex(9)[:17]
            index = self.book.hosts.index(host)
            inst = _Instance(ident, request.image_id, itype, host.id, f"{self.region}a",
                             f"10.{index // 256 % 256}.{index % 256}.{10 + host.used + n}",
                             now, dict(request.tags))
            self.instances[ident] = inst
            out.instances.append(inst.proto())
        return out

    @rpc
    async def DescribeInstances(self, request: pb.DescribeInstancesRequest
                                ) -> pb.DescribeInstancesResponse:
        if len(request.instance_ids) > MAX_IDS:
            raise invalid("instance_ids", f"too many ({len(request.instance_ids)} > {MAX_IDS})")
        if request.max_results > MAX_IDS:
            raise invalid("max_results", f"must be <= {MAX_IDS}, got {request.max_results}")
        out = pb.DescribeInstancesResponse()
        for i, ident in enumerate(request.instance_ids):
            if not INSTANCE_RE.fullmatch(ident):
                raise invalid(f"instance_ids[{i}]", f"malformed instance id {ident[:64]!r}")
            inst = self.instances.get(ident)
            if inst is None:
                raise not_found(f"instance {ident!r} not found")
            out.instances.append(inst.proto())
        if not request.instance_ids:
            for inst in list(self.instances.values())[:request.max_results or MAX_IDS]:
                out.instances.append(inst.proto())
        return out


    @rpc
    async def TerminateInstances(self, request: pb.TerminateInstancesRequest
                                 ) -> pb.TerminateInstancesResponse:
        ids = list(request.instance_ids)
        if not ids:
            raise invalid("instance_ids", "name at least one instance")
        if len(ids) > MAX_IDS:
            raise invalid("instance_ids", f"too many ({len(ids)} > {MAX_IDS})")
        for i, ident in enumerate(ids):
            if not INSTANCE_RE.fullmatch(ident):
                raise invalid(f"instance_ids[{i}]", f"malformed instance id {ident[:64]!r}")
            if ident not in self.instances:
                raise not_found(f"instance {ident!r} not found")
        out = pb.TerminateInstancesResponse()
        for ident in dict.fromkeys(ids):  # a repeated id is terminated once
            inst = self.instances.pop(ident)
            host = self._hosts.get(inst.host)
            if host is not None and host.used > 0:
                host.used -= 1
            proto = inst.proto()
            proto.state = "terminated"
            out.instances.append(proto)
        return out


def register(runtime: Runtime) -> list[tuple[Any, Any, str]]:
    return [(pb_grpc.add_EC2Servicer_to_server, EC2Servicer(runtime), "chaoslab.ec2.v1.EC2")]
