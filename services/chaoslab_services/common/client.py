"""Calling lab services from outside a service: bootstrap, manual calls, load tools.

``LabClient`` dials endpoints by name through the lab's DNS with the same ``Dependency``
machinery a service uses (so it also refuses addresses outside ``allowed_networks``).
``client_main`` is the manual-call command every service's ``client`` module exposes::

    python -m chaoslab_services.dynamodb.client --target 127.0.0.1:50061 \
        GetItem '{"table": "customers", "pk": "customer-0"}'
    python -m chaoslab_services.iam.client --endpoints lab.yaml --dns 127.0.0.1:1053 \
        Authenticate '{"user": "customer-0", "secret": "customer-0-secret"}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from chaoslab_services import catalog
from chaoslab_services.common.config import (
    DEFAULT_ALLOWED_NETWORKS,
    Endpoint,
    load_endpoints,
    parse_hostport,
    parse_networks,
)
from chaoslab_services.common.deps import CHANNEL_OPTIONS, Dependency
from chaoslab_services.common.dns import DnsResolver
from chaoslab_services.common.errors import ConfigError
from chaoslab_services.common.metrics import ServiceMetrics
from chaoslab_services.common.resilience import (
    DnsCachePolicy,
    EdgePolicy,
    RetryPolicy,
)

# Patient but bounded: a bootstrap may start while services are still coming up.
CLIENT_POLICY = EdgePolicy(
    timeout=5.0, dns_timeout=2.0,
    retries=RetryPolicy("exponential_full_jitter", 8, 0.1, 2.0),
    dns_cache=DnsCachePolicy(enabled=True, max_ttl=5.0),
)


class LabClient:
    """Calls by endpoint key through DNS: ``await client.call("iam", "Authenticate", req)``."""

    def __init__(self, endpoints: dict[str, Endpoint] | str | Path, dns: str | tuple[str, int], *,
                 policy: EdgePolicy = CLIENT_POLICY,
                 allowed_networks: Any = DEFAULT_ALLOWED_NETWORKS,
                 metrics: ServiceMetrics | None = None) -> None:
        if not isinstance(endpoints, dict):
            endpoints = load_endpoints(endpoints)
        if isinstance(dns, str):
            dns = parse_hostport(dns, "--dns")
        self.endpoints = endpoints
        self.policy = policy
        self.allowed = parse_networks(list(allowed_networks), "--allowed-networks")
        self.metrics = metrics or ServiceMetrics("client", "global")
        self.resolver = DnsResolver(dns)
        self._deps: dict[str, Dependency] = {}

    def dependency(self, key: str) -> Dependency:
        dep = self._deps.get(key)
        if dep is None:
            endpoint = self.endpoints.get(key)
            if endpoint is None:
                raise ConfigError(f"--endpoints: no entry for {key!r}")
            dep = Dependency(key, endpoint.host, endpoint.port, catalog.stub_class(key),
                             self.policy, self.resolver, self.allowed, self.metrics)
            self._deps[key] = dep
        return dep

    async def call(self, key: str, method: str, request: Any) -> Any:
        return await self.dependency(key).call(method, request)

    async def close(self) -> None:
        for dep in self._deps.values():
            await dep.close()


def _request_class(stub_cls: type, service_full: str, method: str) -> Any:
    """The request message class of ``method`` from the generated module's descriptor."""
    module = sys.modules[stub_cls.__module__.replace("_pb2_grpc", "_pb2")]
    service = module.DESCRIPTOR.services_by_name[service_full.rsplit(".", 1)[1]]
    m = service.methods_by_name.get(method)
    if m is None:
        names = ", ".join(service.methods_by_name)
        raise SystemExit(f"unknown method {method!r}; {service_full} has: {names}")
    return getattr(module, m.input_type.name)


def client_main(service: str, argv: list[str] | None = None) -> int:
    """``python -m chaoslab_services.<svc>.client [--target | --endpoints --dns] METHOD JSON``."""
    key_default = catalog.endpoint_key(service, "us-east-1")
    parser = argparse.ArgumentParser(
        prog=f"python -m chaoslab_services.{'lambda_' if service == 'lambda' else service}.client",
        description=f"Call one {service} RPC by hand and print the reply as JSON.")
    parser.add_argument("method", help="RPC name, e.g. GetItem")
    parser.add_argument("request", nargs="?", default="{}",
                        help="request as JSON (proto3 JSON mapping; bytes are base64), "
                             "or @FILE; default {}")
    parser.add_argument("--target", help="dial HOST:PORT directly (no DNS)")
    parser.add_argument("--endpoints", help="endpoints YAML, to dial by name through --dns")
    parser.add_argument("--dns", help="the lab's DNS server HOST:PORT (with --endpoints)")
    parser.add_argument("--key", default=key_default,
                        help=f"endpoint key to call with --endpoints (default {key_default})")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    args = parser.parse_args(argv)

    stub_cls = catalog.stub_class(service)
    full = {"dynamodb": "DynamoDB", "kms": "KMS", "iam": "IAM", "sts": "STS", "s3": "S3",
            "lambda": "Lambda", "cloudwatch": "CloudWatch", "ec2": "EC2",
            "signin": "SignIn"}[service]
    req_cls = _request_class(stub_cls, f"chaoslab.{service}.v1.{full}", args.method)
    text = Path(args.request[1:]).read_text() if args.request.startswith("@") else args.request
    try:
        request = json_format.Parse(text, req_cls())
    except json_format.ParseError as exc:
        print(f"error: request is not a valid {req_cls.__name__}: {exc}", file=sys.stderr)
        return 2

    async def run() -> Any:
        if args.target:
            async with grpc.aio.insecure_channel(args.target, options=CHANNEL_OPTIONS) as ch:
                return await getattr(stub_cls(ch), args.method)(request, timeout=args.timeout)
        if not (args.endpoints and args.dns):
            raise SystemExit("give --target HOST:PORT, or --endpoints FILE and --dns HOST:PORT")
        client = LabClient(args.endpoints, args.dns)
        try:
            return await client.call(args.key, args.method, request)
        finally:
            await client.close()

    try:
        reply = asyncio.run(run())
    except grpc.aio.AioRpcError as err:
        print(json.dumps({"code": err.code().name, "details": err.details()}), file=sys.stderr)
        return 1
    except Exception as err:  # DependencyError and friends: print, don't trace
        print(json.dumps({"error": str(err)}), file=sys.stderr)
        return 1
    print(json_format.MessageToJson(reply, preserving_proto_field_name=True))
    return 0
