"""Configuration: one optional YAML file (``--config``) plus command-line flags.

Flags win over the file. Required values (service, region, listen, http, dns, endpoints)
fail at start with a message naming the flag and the file key, never later at first use.
Durations are Go-style strings (``250ms``, ``2s``, ``1m30s``) or plain numbers of seconds,
as in the OutageScenario spec, so one vocabulary serves the whole lab.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chaoslab_dns import durations
from chaoslab_services import SERVICES
from chaoslab_services.common.errors import ConfigError

REGIONS = ("us-east-1", "us-west-2")
DEFAULT_ALLOWED_NETWORKS = ("127.0.0.0/8",)

def parse_duration(value: Any, name: str) -> float:
    """Seconds from ``"1m30s"``/``"250ms"``/a number; the error quotes the offending value.

    Strings use the OutageScenario grammar (`chaoslab_dns.durations`, Go's), so a duration
    means the same in a service's config as in a scenario.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration like '500ms', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            seconds = durations.parse_duration(value.strip())
        except durations.DurationError:
            raise ConfigError(f"{name}: invalid duration {value!r} (use e.g. '250ms', '2s', "
                              "'1m')") from None
    else:
        raise ConfigError(f"{name}: expected a duration like '500ms', got {value!r}")
    if seconds < 0 or seconds != seconds:
        raise ConfigError(f"{name}: duration must be >= 0, got {value!r}")
    return seconds


def parse_hostport(value: Any, name: str) -> tuple[str, int]:
    """``HOST:PORT`` with an IPv4 literal or a name; port 1..65535 (0 allowed for listen)."""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")
    return host, int(port_text)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: Any, name: str) -> tuple[Network, ...]:
    """CIDR list (comma-separated string or YAML list) of addresses services may dial."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(f"{name}: expected a list of CIDR networks, got {value!r}")
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"{name}: invalid network {item!r}: {exc}") from None
    return tuple(nets)


@dataclass(frozen=True)
class Endpoint:
    """One dependency target: the DNS name to resolve and the well-known port to dial."""

    key: str
    host: str
    port: int


def load_endpoints(path: str | Path) -> dict[str, Endpoint]:
    """Reads the ``--endpoints`` YAML: ``{key: {host: NAME, port: N}}``."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"--endpoints: file not found: {str(path)!r}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--endpoints: {str(path)!r} is not valid YAML: {exc}") from None
    return endpoints_from_mapping(doc, str(path))


def endpoints_from_mapping(doc: Any, origin: str) -> dict[str, Endpoint]:
    if not isinstance(doc, dict) or not doc:
        raise ConfigError(f"--endpoints: {origin!r} must map endpoint keys to {{host, port}}")
    out: dict[str, Endpoint] = {}
    for key, entry in doc.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"--endpoints: entry {key!r} must be a mapping with host and port")
        host, port = entry.get("host"), entry.get("port")
        if not isinstance(host, str) or not host:
            raise ConfigError(f"--endpoints: entry {key!r} has no 'host'")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"--endpoints: entry {key!r} has invalid port {port!r}")
        out[str(key)] = Endpoint(str(key), host.rstrip("."), port)
    return out


def _package_yaml(name: str) -> dict[str, Any]:
    text = resources.files("chaoslab_services").joinpath(name).read_text()
    return yaml.safe_load(text)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; ``override`` wins; neither input is modified."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class ServiceConfig:
    """Everything one service process needs, validated before anything starts."""

    service: str
    region: str
    listen: tuple[str, int]
    http: tuple[str, int]
    dns: tuple[str, int]
    endpoints: dict[str, Endpoint]
    policy_doc: dict[str, Any]          # a resilience profile or policy file, parsed later
    policy_name: str                    # profile name or policy path, for logs and /readyz
    allowed_networks: tuple[Any, ...] = field(default=())
    capacity: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    log_level: str = "info"
    dns_source: str | None = None  # local address DNS queries are sent from


_REQUIRED = {
    "service": "--service", "region": "--region", "listen": "--listen", "http": "--http",
    "dns": "--dns", "endpoints": "--endpoints",
}


def load_profile(name: str) -> dict[str, Any]:
    """A named resilience profile shipped in ``chaoslab_services/profiles``."""
    names = available_profiles()
    if name not in names:
        raise ConfigError(f"--profile: unknown profile {name!r}; choose one of {', '.join(names)}")
    return _package_yaml(f"profiles/{name}.yaml")


def available_profiles() -> list[str]:
    folder = resources.files("chaoslab_services").joinpath("profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _load_yaml_file(path: str, flag: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{flag}: file not found: {path!r}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{flag}: {path!r} is not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{flag}: {path!r} must be a YAML mapping")
    return doc


def build_config(flags: dict[str, Any]) -> ServiceConfig:
    """Merges ``--config`` file values under the flags and validates the result."""
    file_doc: dict[str, Any] = {}
    base_dir = Path.cwd()
    if flags.get("config"):
        file_doc = _load_yaml_file(flags["config"], "--config")
        base_dir = Path(flags["config"]).resolve().parent
    merged = {k: v for k, v in file_doc.items()}
    for key, value in flags.items():
        if value is not None and key != "config":
            merged[key.replace("-", "_")] = value

    missing = [f"{flag} (or '{key}:' in --config)" for key, flag in _REQUIRED.items()
               if merged.get(key) in (None, "")]
    if missing:
        raise ConfigError("missing required setting(s): " + ", ".join(missing))

    service = merged["service"]
    if service not in SERVICES:
        raise ConfigError(f"--service: unknown service {service!r}; "
                          f"choose one of {', '.join(SERVICES)}")
    region = merged["region"]
    if region not in REGIONS:
        raise ConfigError(f"--region: unknown region {region!r}; "
                          f"choose one of {', '.join(REGIONS)}")

    endpoints_value = merged["endpoints"]
    if isinstance(endpoints_value, dict):
        endpoints = endpoints_from_mapping(endpoints_value, "--config endpoints")
    else:
        endpoints = load_endpoints(_relative(endpoints_value, base_dir, flags, "endpoints"))

    if merged.get("profile") and merged.get("policy"):
        if flags.get("profile") and flags.get("policy"):
            raise ConfigError("give either --profile or --policy, not both")
        # a flag overrides the file's choice of the other kind
        if flags.get("policy"):
            merged.pop("profile")
        else:
            merged.pop("policy")
    if merged.get("policy"):
        policy_value = merged["policy"]
        if isinstance(policy_value, dict):
            policy_doc, policy_name = policy_value, "inline"
        else:
            path = _relative(policy_value, base_dir, flags, "policy")
            policy_doc, policy_name = _load_yaml_file(str(path), "--policy"), str(path)
    else:
        policy_name = merged.get("profile") or "backoff-jitter"
        policy_doc = load_profile(policy_name)

    defaults = _package_yaml("defaults.yaml")
    capacity = deep_merge(defaults["capacity"][service], merged.get("capacity") or {})
    settings = deep_merge(defaults["settings"].get(service) or {}, merged.get("settings") or {})
    level = str(merged.get("log_level", "info")).lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level: invalid level {level!r}")

    return ServiceConfig(
        service=service,
        region=region,
        listen=parse_hostport(merged["listen"], "--listen"),
        http=parse_hostport(merged["http"], "--http"),
        dns=parse_hostport(merged["dns"], "--dns"),
        endpoints=endpoints,
        policy_doc=policy_doc,
        policy_name=policy_name,
        allowed_networks=parse_networks(
            merged.get("allowed_networks") or list(DEFAULT_ALLOWED_NETWORKS), "--allowed-networks"),
        capacity=capacity,
        settings=settings,
        log_level=level,
        dns_source=_dns_source(merged.get("dns_source")),
    )


def _dns_source(value: Any) -> str | None:
    """``--dns-source``: one IP address of this host, or None (the kernel picks)."""
    if value in (None, ""):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConfigError(f"--dns-source: invalid address {value!r}, want e.g. 127.0.0.12"
                          ) from None


def _relative(value: Any, base_dir: Path, flags: dict[str, Any], key: str) -> Path:
    """A path from the flag is relative to the cwd; one from the file, to the file."""
    path = Path(str(value))
    if path.is_absolute() or flags.get(key):
        return path
    return base_dir / path
