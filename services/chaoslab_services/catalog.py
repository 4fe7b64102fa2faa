"""The lab's endpoints and dependency graph: which process answers which name, and who calls whom.

Endpoint keys are ``<service>.<region>`` for regional services and ``iam`` / ``sts`` /
``signin`` for the global ones, which live in us-east-1 as the real ones do. Each global
one is a process of its own, so each name can fail on its own (STS: services/README.md).

    dynamodb, kms, s3 : no dependencies
    iam        -> dynamodb.us-east-1, kms.us-east-1
    sts        -> dynamodb.us-east-1, kms.us-east-1 (IAM's identity store, not IAM)
    signin     -> iam, sts (the console sign-in customers of every region use)
    lambda.R   -> iam, sts, s3.R, dynamodb.R, cloudwatch.R
    cloudwatch.R -> iam, dynamodb.R
    ec2.R      -> dynamodb.R (DWFM's host leases)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REGIONS = ("us-east-1", "us-west-2")
GLOBAL_REGION = "us-east-1"
REGIONAL_SERVICES = ("dynamodb", "kms", "s3", "lambda", "cloudwatch", "ec2")
GLOBAL_SERVICES = ("iam", "sts", "signin")  # one endpoint each, in GLOBAL_REGION
ZONE = "aws.internal"
CLUSTER_PORT = 50051  # every service's port in the cluster (one pod a service)


@dataclass(frozen=True)
class CatalogEntry:
    key: str        # endpoint key, e.g. "dynamodb.us-east-1", "iam"
    service: str    # the process that answers: dynamodb | kms | iam | sts | signin | s3
                    # | lambda | cloudwatch | ec2
    region: str
    fqdn: str
    alias_of: str | None = None  # another key's process answers it (its port); none today


def _entries() -> tuple[CatalogEntry, ...]:
    out = []
    for region in REGIONS:
        for svc in REGIONAL_SERVICES:
            out.append(CatalogEntry(f"{svc}.{region}", svc, region, f"{svc}.{region}.{ZONE}"))
    for svc in GLOBAL_SERVICES:
        out.append(CatalogEntry(svc, svc, GLOBAL_REGION, f"{svc}.{ZONE}"))
    return tuple(out)


ENDPOINTS: tuple[CatalogEntry, ...] = _entries()
BY_KEY = {e.key: e for e in ENDPOINTS}

# Endpoints that need a process of their own (an alias is served by its target's).
PROCESSES: tuple[CatalogEntry, ...] = tuple(e for e in ENDPOINTS if e.alias_of is None)


def endpoint_key(service: str, region: str) -> str:
    """The key of the endpoint a (service, region) process serves."""
    return service if service in GLOBAL_SERVICES else f"{service}.{region}"


def dependencies(service: str, region: str) -> tuple[str, ...]:
    """Endpoint keys a service in ``region`` calls; IAM's and STS's data live in their own
    region (us-east-1)."""
    return {
        "dynamodb": (),
        "kms": (),
        "s3": (),
        "iam": (f"dynamodb.{region}", f"kms.{region}"),
        "sts": (f"dynamodb.{region}", f"kms.{region}"),   # IAM's identity store
        "signin": ("iam", "sts"),   # password check, then the console session
        "lambda": ("iam", "sts", f"s3.{region}", f"dynamodb.{region}", f"cloudwatch.{region}"),
        "cloudwatch": ("iam", f"dynamodb.{region}"),
        "ec2": (f"dynamodb.{region}",),   # DWFM's host leases
    }[service]


def stub_class(key: str) -> type:
    """The generated gRPC stub for an endpoint key."""
    from chaoslab_services.protos import (
        cloudwatch_pb2_grpc,
        dynamodb_pb2_grpc,
        ec2_pb2_grpc,
        iam_pb2_grpc,
        kms_pb2_grpc,
        lambda_pb2_grpc,
        s3_pb2_grpc,
        signin_pb2_grpc,
        sts_pb2_grpc,
    )

    svc = key.split(".", 1)[0]
    return {
        "dynamodb": dynamodb_pb2_grpc.DynamoDBStub,
        "kms": kms_pb2_grpc.KMSStub,
        "iam": iam_pb2_grpc.IAMStub,
        "sts": sts_pb2_grpc.STSStub,
        "signin": signin_pb2_grpc.SignInStub,
        "s3": s3_pb2_grpc.S3Stub,
        "lambda": lambda_pb2_grpc.LambdaStub,
        "cloudwatch": cloudwatch_pb2_grpc.CloudWatchStub,
        "ec2": ec2_pb2_grpc.EC2Stub,
    }[svc]


def endpoints_doc(ports: dict[str, int] | None = None, *,
                  default_port: int | None = None) -> dict[str, dict[str, object]]:
    """``{key: {host, port}}`` for the catalog endpoints that have a port.

    ``ports`` gives one port per key (local lab); an alias always gets its target's
    port, since one process serves both. ``default_port`` fills the rest
    (cluster: 50051 everywhere). Endpoints with no port are left out: a service that
    depends on one then refuses to start and names it.
    """
    ports = dict(ports or {})
    doc: dict[str, dict[str, object]] = {}
    for entry in ENDPOINTS:
        port = ports.get(entry.alias_of or entry.key, ports.get(entry.key, default_port))
        if port is not None:
            doc[entry.key] = {"host": entry.fqdn, "port": int(port)}
    if not doc:
        raise KeyError("no endpoint has a port (give ports or default_port)")
    return doc


def write_endpoints(path: str | Path, ports: dict[str, int] | None = None, *,
                    default_port: int | None = None) -> Path:
    """Writes the ``--endpoints`` YAML every service and the bootstrap read."""
    path = Path(path)
    doc = endpoints_doc(ports, default_port=default_port)
    path.write_text("# generated by chaoslab_services.catalog.write_endpoints\n"
                    + yaml.safe_dump(doc, sort_keys=True))
    return path


def serve_command(key: str, *, endpoints: str | Path, dns: str, listen: str, http: str,
                  profile: str | None = None, policy: str | Path | None = None,
                  config: str | Path | None = None, allowed_networks: str | None = None,
                  dns_source: str | None = None, python: str = sys.executable) -> list[str]:
    """The exact command line that runs the process for endpoint ``key`` (lab runtimes)."""
    entry = BY_KEY[key]
    if entry.alias_of:
        raise ValueError(f"{key} is served by the {entry.alias_of} process; start that")
    cmd = [python, "-m", "chaoslab_services", "serve", "--service", entry.service,
           "--region", entry.region, "--listen", listen, "--http", http, "--dns", dns,
           "--endpoints", str(endpoints)]
    if profile:
        cmd += ["--profile", profile]
    if policy:
        cmd += ["--policy", str(policy)]
    if config:
        cmd += ["--config", str(config)]
    if allowed_networks:
        cmd += ["--allowed-networks", allowed_networks]
    if dns_source:
        cmd += ["--dns-source", dns_source]
    return cmd
