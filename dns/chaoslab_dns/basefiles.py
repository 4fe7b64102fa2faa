"""Base Corefiles: the pristine text the compiler fills in.

``local_corefile`` renders the local lab's Corefile from the packaged template: two
authoritative zones on 127.0.0.1, ``aws.internal`` (the lab's endpoints) and ``lab.test``
(a name outside aws.internal; nothing may be forwarded off the machine). Each name is
served by CoreDNS's template plugin so the zone behaves like a real authoritative one:
A for listed names, NOERROR/empty for their other types, NXDOMAIN with SOA for the rest.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from importlib import resources
from string import Template

from .validate import ScenarioError, parse_target

__all__ = ["LAB_TEST_RECORDS", "local_corefile", "zone_records"]

# Fixed records of the lab.test zone; nothing ever connects to them.
LAB_TEST_RECORDS: Mapping[str, str] = {
    "www.lab.test": "127.0.0.10",
    "api.lab.test": "127.0.0.11",
}


def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("corefiles", name).read_text("utf-8"))


def _regex(name: str) -> str:
    """An anchored RE2 for one validated name; '[.]' avoids backslashes in the Corefile."""
    return "^" + name.replace(".", "[.]") + "[.]$"


def zone_records(zone: str, records: Mapping[str, str], ttl: int, indent: str = "    ") -> str:
    """Template-plugin directives that make CoreDNS authoritative for ``zone``.

    ``records`` maps names (inside ``zone``) to IPv4 addresses. Raises ValueError naming a
    bad name or address.
    """
    zone = parse_target(zone, "zone")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 86400:
        raise ValueError(f"ttl must be whole seconds in 0..86400, got {ttl!r}")
    by_ip: dict[str, list[str]] = {}
    for raw_name, raw_ip in records.items():
        try:
            name = parse_target(raw_name, f"record {raw_name!r}")
        except ScenarioError as exc:
            raise ValueError(str(exc)) from None
        if name.startswith("*.") or not name.endswith("." + zone):
            raise ValueError(f"record {raw_name!r} is not a name inside {zone!r}")
        try:
            ip = str(ipaddress.IPv4Address(raw_ip))
        except ValueError:
            raise ValueError(f"record {raw_name!r}: {raw_ip!r} is not an IPv4 address") from None
        by_ip.setdefault(ip, []).append(name)

    soa = f"{zone}. {ttl} IN SOA ns.{zone}. hostmaster.{zone}. 1 7200 1800 86400 {ttl}"
    i1, i2 = indent, indent * 2
    out = [
        f"{i1}template IN SOA {zone} {{",
        f"{i2}match {_regex(zone)}",
        f'{i2}answer "{soa}"',
        f"{i2}fallthrough",
        f"{i1}}}",
    ]
    for ip in sorted(by_ip, key=ipaddress.IPv4Address):
        out.append(f"{i1}template IN A {zone} {{")
        out += [f"{i2}match {_regex(n)}" for n in sorted(by_ip[ip])]
        out += [f'{i2}answer "{{{{ .Name }}}} {ttl} IN A {ip}"', f"{i2}fallthrough", f"{i1}}}"]
    # Names that exist, asked for another type: NOERROR, no answer, SOA for negative caching.
    out.append(f"{i1}template ANY ANY {zone} {{")
    out.append(f"{i2}match {_regex(zone)}")
    out += [f"{i2}match {_regex(n)}" for n in sorted(n for ns in by_ip.values() for n in ns)]
    out += [f'{i2}authority "{soa}"', f"{i2}fallthrough", f"{i1}}}"]
    # Every other name in the zone does not exist.
    out += [
        f"{i1}template ANY ANY {zone} {{",
        f"{i2}rcode NXDOMAIN",
        f'{i2}authority "{soa}"',
        f"{i1}}}",
    ]
    return "\n".join(out)


def _port(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{what} must be a port number 1..65535, got {value!r}")
    return value


def local_corefile(
    dns_port: int,
    metrics_port: int,
    endpoints: Mapping[str, str],
    ttl: int = 5,
    reload_plugin: bool = False,
) -> str:
    """The local lab's pristine Corefile.

    ``endpoints`` maps ``<service>.<region>.aws.internal`` (and ``iam.aws.internal`` ...) to
    IPv4 addresses; ``ttl`` is the TTL of every record and of negative answers, kept short so
    clients see a fault and its revert quickly. The lab reloads CoreDNS by SIGUSR1 alone;
    ``reload_plugin`` adds ``reload 2s 0s`` for a CoreDNS nobody signals (never both: they
    race, coredns#6263).
    """
    return _template("Corefile.local.tmpl").substitute(
        reload="    reload 2s 0s\n" if reload_plugin else "",
        dns_port=_port(dns_port, "dns_port"),
        metrics_port=_port(metrics_port, "metrics_port"),
        aws_internal_records=zone_records("aws.internal", endpoints, ttl),
        lab_test_records=zone_records("lab.test", LAB_TEST_RECORDS, ttl),
    )
