"""``python -m chaoslab_services.nlb {checker,target}``: the failover endpoint's processes.

Examples (one CoreDNS ``file`` block serving the zone file, see services/README.md):
  python -m chaoslab_services.nlb target --listen 127.0.0.21:8080
  python -m chaoslab_services.nlb checker --name nlb.us-east-1.aws.internal \\
    --targets 127.0.0.21,127.0.0.22 --port 8080 --zone-file /tmp/nlb.db \\
    --http 127.0.0.1:9190 --config failover.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from pathlib import Path

import yaml

from chaoslab_services.common.config import parse_hostport
from chaoslab_services.common.errors import ConfigError


def _loopback(value: str, name: str) -> str:
    """Targets are dialled by the checker: loopback only, as every lab address."""
    try:
        addr = ipaddress.IPv4Address(value.strip())
    except ValueError:
        raise ConfigError(f"{name}: invalid IPv4 address {value!r}") from None
    if not addr.is_loopback:
        raise ConfigError(f"{name}: {value!r} is outside 127.0.0.0/8")
    return str(addr)


def _checker(args: argparse.Namespace) -> int:
    from chaoslab_services.nlb import checker as chk
    from chaoslab_services.nlb import policy as pol

    doc: dict = {}
    if args.config:
        try:
            doc = yaml.safe_load(Path(args.config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"--config: cannot read {args.config}: {exc}") from None
        if not isinstance(doc, dict) or set(doc) - {"failover"}:
            raise ConfigError(f"--config: expected a mapping with the one key 'failover', "
                              f"got {sorted(doc) if isinstance(doc, dict) else doc!r}")
    policy = pol.FailoverPolicy.from_doc(doc.get("failover") or {}, "failover")
    targets = tuple(_loopback(t, "--targets") for t in args.targets.split(",") if t.strip())
    host, port = parse_hostport(args.http, "--http")
    checker = chk.Checker(policy, args.name, targets, args.port, Path(args.zone_file),
                          region=args.region)
    return asyncio.run(chk.serve(checker, host, port))


def _target(args: argparse.Namespace) -> int:
    from chaoslab_services.nlb import target

    host, port = parse_hostport(args.listen, "--listen")
    return target.serve(_loopback(host, "--listen"), port, propagated=not args.unpropagated)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chaoslab_services.nlb",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("checker", help="probe the targets, keep the healthy ones in DNS")
    c.add_argument("--name", required=True, help="the endpoint's DNS name (the zone's origin)")
    c.add_argument("--targets", required=True, metavar="IP[,IP]",
                   help="the target group: loopback addresses, all on --port")
    c.add_argument("--port", required=True, type=int, help="the targets' port")
    c.add_argument("--zone-file", required=True, metavar="FILE",
                   help="the zone file CoreDNS's file plugin serves (rewritten atomically)")
    c.add_argument("--http", required=True, metavar="HOST:PORT",
                   help="/metrics, /healthz, /readyz, /failover")
    c.add_argument("--region", default="us-east-1", help="the metrics' region label")
    c.add_argument("--config", metavar="FILE.yaml",
                   help="YAML with a 'failover' mapping (check_interval, timeout, "
                        "unhealthy_threshold, healthy_threshold, ttl, velocity_limit)")
    c.set_defaults(func=_checker)
    t = sub.add_parser("target", help="one target: data path / and health path /health")
    t.add_argument("--listen", required=True, metavar="IP:PORT", help="a loopback address")
    t.add_argument("--unpropagated", action="store_true",
                   help="start with the health path failing (the data path serves)")
    t.set_defaults(func=_target)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
