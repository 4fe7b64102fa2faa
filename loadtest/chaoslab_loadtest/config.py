"""Load-generator configuration: one typed object, loaded once, every default in config.yaml.

Layers, later wins: the packaged `config.yaml` → a user YAML (`--chaoslab-config`) →
command-line flags (`--lab-state`, `--endpoints`, `--region`, `--workflow-weights`,
`--customer-dns`).
Parsing is separate from Locust so it can be tested without starting a load test, and an
invalid value is reported with the offending value quoted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
WORKFLOW_NAMES = ("signin", "invoke", "metrics", "items", "launch")
REGIONS = ("us-east-1", "us-west-2")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Customers:
    count: int = 20  # customer-0 .. customer-(count-1), as seeded by the services' bootstrap
    user: str = "customer-{i}"  # user-name pattern
    secret: str = "customer-{i}-secret"  # secret pattern

    def identity(self, index: int) -> tuple[str, str]:
        i = index % self.count
        return self.user.format(i=i), self.secret.format(i=i)


@dataclass(frozen=True)
class LoadConfig:
    targets: dict[str, str]  # endpoint key ("iam", "lambda.us-east-1") -> "host:port"
    regions: tuple[str, ...] = ("us-east-1",)  # customers' home regions
    workflow_weights: dict[str, float] = field(default_factory=dict)  # workflow -> weight
    users: int = 20  # Locust --users when the command line does not say
    spawn_rate: float = 5.0  # Locust --spawn-rate when the command line does not say
    wait_time: tuple[float, float] = (0.5, 1.5)  # seconds between workflows, uniform
    timeout: float = 2.0  # per-call deadline, seconds
    attempts: int = 1  # tries per call on UNAVAILABLE/DEADLINE_EXCEEDED
    token_seconds: int = 900  # session length asked of IAM
    customers: Customers = Customers()
    lambda_function: str = "order-counter"
    dynamodb_table: str = "customers"
    metric_namespace: str = "Customer/App"
    alarm_prefix: str = ""
    ec2_image: str = "ami-0c0ffee0c0ffee000"  # launch workflow: the AMI a customer launches
    ec2_instance_type: str = "t3.micro"
    # How customers find the front doors (resolver.py): resolve = through the lab's DNS
    # (`dns`) with an SDK-like cache; direct = dial the targets' addresses as given.
    customer_dns: str = "resolve"
    dns: str = ""  # "host:port" of the lab's CoreDNS; from the lab state when not given
    dns_max_ttl: float = 30.0  # a positive answer is kept for its TTL, at most this
    dns_negative_ttl: float = 10.0  # NXDOMAIN/NODATA without an SOA (with one: RFC 2308)
    dns_timeout: float = 1.0  # per query; no reply = a failed call (never cached)

    def front_door(self, workflow: str, region: str) -> str:
        """Endpoint key a workflow's first call goes to (sign-in is global, the rest
        regional)."""
        return FRONT_DOORS[workflow].format(region=region)

    def target(self, key: str) -> str:
        try:
            return self.targets[key]
        except KeyError:
            known = ", ".join(sorted(self.targets)) or "none"
            raise ConfigError(f"no address for endpoint {key!r} (known: {known})") from None

    def enabled_workflows(self) -> dict[str, float]:
        return {w: x for w, x in self.workflow_weights.items() if x > 0}


FRONT_DOORS = {
    "signin": "signin",  # the global console sign-in (us-east-1) for every region
    "invoke": "lambda.{region}",
    "metrics": "cloudwatch.{region}",
    "items": "dynamodb.{region}",
    "launch": "ec2.{region}",
}


def parse_weights(text: str) -> dict[str, float]:
    """`signin=3,invoke=5` -> {"signin": 3.0, "invoke": 5.0}; unknown names are errors."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in WORKFLOW_NAMES:
            raise ConfigError(
                f"invalid workflow weight {part!r}: expected NAME=WEIGHT with NAME one of "
                + ", ".join(WORKFLOW_NAMES))
        try:
            weights[name] = float(value)
        except ValueError:
            raise ConfigError(f"invalid weight {value!r} for workflow {name!r}") from None
        if weights[name] < 0:
            raise ConfigError(f"negative weight {value!r} for workflow {name!r}")
    return weights


def parse_regions(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    regions = tuple(r.strip() for r in items if r.strip())
    for r in regions:
        if r not in REGIONS:
            raise ConfigError(f"unknown region {r!r}: expected one of {', '.join(REGIONS)}")
    if not regions:
        raise ConfigError("no region given")
    return regions


def targets_from_state(path: Path) -> dict[str, str]:
    """The running lab's front doors: `services` of `.lab/state.json` (docs/CONTRACTS.md)."""
    data = _state(path)
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise ConfigError(f"lab state {str(path)!r} has no 'services' map")
    return {str(k): str(v) for k, v in services.items()}


def _state(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        raise ConfigError(
            f"lab state {str(path)!r} not found: start the lab (chaoslab up --local) or pass "
            "--endpoints") from None


def targets_from_endpoints(path: Path, host: str | None = None) -> dict[str, str]:
    """An endpoints file as the services read it: {key: {host, port}}; `host` overrides the
    file's names (they are the lab's DNS names, which customers do not go through)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if isinstance(data.get("endpoints"), dict):
        data = data["endpoints"]
    targets = {}
    for key, value in data.items():
        if not isinstance(value, dict) or "host" not in value or "port" not in value:
            raise ConfigError(f"endpoint {key!r} in {str(path)!r} needs host and port: {value!r}")
        targets[str(key)] = f"{host or value['host']}:{int(value['port'])}"
    return targets


def load(
    path: Path | None = None,
    *,
    lab_state: str | None = None,
    endpoints: str | None = None,
    regions: str | None = None,
    workflow_weights: str | None = None,
    customer_dns: str | None = None,
    base: Path = DEFAULT_CONFIG,
) -> LoadConfig:
    """Merge the packaged defaults, an optional user file and flag values into a LoadConfig."""
    raw: dict[str, Any] = yaml.safe_load(base.read_text()) or {}
    if path is not None:
        override = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(override, dict):
            raise ConfigError(f"{str(path)!r} is not a YAML mapping")
        raw = _merge(raw, override)
    if lab_state:
        raw["lab_state"], raw["endpoints"], raw["targets"] = lab_state, None, {}
    if endpoints:
        raw["endpoints"], raw["targets"] = endpoints, {}
    if customer_dns:
        raw["customer_dns"] = customer_dns
    return from_mapping(raw, regions=regions, workflow_weights=workflow_weights)


def from_mapping(
    raw: Mapping[str, Any], *, regions: str | None = None, workflow_weights: str | None = None
) -> LoadConfig:
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown configuration key(s): {', '.join(sorted(map(repr, unknown)))}")
    if raw.get("targets"):
        targets = {str(k): str(v) for k, v in raw["targets"].items()}
    elif raw.get("endpoints"):
        targets = targets_from_endpoints(Path(raw["endpoints"]), raw.get("endpoint_host"))
    elif raw.get("lab_state"):
        targets = targets_from_state(Path(raw["lab_state"]))
        if not raw.get("dns"):  # the lab's CoreDNS, for customer_dns: resolve
            raw = {**raw, "dns": str(_state(Path(raw["lab_state"])).get("dns") or "")}
    else:
        raise ConfigError("no targets: set targets, --lab-state or --endpoints")
    weights = {w: float(x) for w, x in (raw.get("workflow_weights") or {}).items()}
    bad = set(weights) - set(WORKFLOW_NAMES)
    if bad:
        raise ConfigError(f"unknown workflow(s) in workflow_weights: {sorted(bad)}")
    if workflow_weights:
        weights.update(parse_weights(workflow_weights))
    wait = raw.get("wait_time", (0.5, 1.5))
    if not (isinstance(wait, list | tuple) and len(wait) == 2 and 0 <= wait[0] <= wait[1]):
        raise ConfigError(f"wait_time must be [min, max] seconds, got {wait!r}")
    cfg = LoadConfig(
        targets=targets,
        regions=parse_regions(regions or raw.get("regions") or ["us-east-1"]),
        workflow_weights=weights,
        wait_time=(float(wait[0]), float(wait[1])),
        customers=Customers(**(raw.get("customers") or {})),
    )
    scalars = {k: raw[k] for k in _SCALARS if k in raw and raw[k] is not None}
    cfg = replace(cfg, **scalars)
    if not cfg.enabled_workflows():
        raise ConfigError("every workflow weight is 0: nothing to run")
    if cfg.customer_dns not in ("direct", "resolve"):
        raise ConfigError(f"customer_dns {cfg.customer_dns!r}: want direct or resolve")
    if cfg.customer_dns == "resolve" and not re.fullmatch(r"[^:\s]+:[0-9]+", cfg.dns):
        raise ConfigError(
            f"customer_dns resolve needs the lab's DNS server as host:port (dns: {cfg.dns!r});"
            " --lab-state gives it, or set customer_dns: direct to dial the targets as given")
    if not re.fullmatch(r"ami-[0-9a-f]{8,17}", cfg.ec2_image):
        raise ConfigError(f"ec2_image {cfg.ec2_image!r}: want 'ami-' and 8..17 hex digits")
    if cfg.timeout <= 0 or cfg.attempts < 1 or cfg.customers.count < 1:
        raise ConfigError(
            f"timeout must be > 0 (got {cfg.timeout!r}), attempts >= 1 (got {cfg.attempts!r}), "
            f"customers.count >= 1 (got {cfg.customers.count!r})")
    return cfg


_SCALARS = ("users", "spawn_rate", "timeout", "attempts", "token_seconds", "lambda_function",
            "dynamodb_table", "metric_namespace", "alarm_prefix", "ec2_image",
            "ec2_instance_type", "customer_dns", "dns", "dns_max_ttl", "dns_negative_ttl",
            "dns_timeout")
_KNOWN_KEYS = {*_SCALARS, "targets", "lab_state", "endpoints", "endpoint_host", "regions",
               "workflow_weights", "wait_time", "customers"}


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(
            out.get(k), dict) and k != "targets" else v
    return out
