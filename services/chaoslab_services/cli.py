"""``python -m chaoslab_services {serve,bootstrap,endpoints,catalog}``.

``serve`` is the entry-point contract used by the local lab and the container image; keep
its flags stable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from chaoslab_services import SERVICES, catalog
from chaoslab_services.common.errors import ConfigError

SERVE_EPILOG = """\
Every flag may instead be given as a key of the --config YAML (same name, '-' -> '_');
flags win. The config file may also override 'capacity' (max_concurrency, queue_limit,
service_time per method, drop_expired) and 'settings' (see defaults.yaml).
Example (local lab):
  python -m chaoslab_services serve --service iam --region us-east-1 \\
    --listen 127.0.0.1:50070 --http 127.0.0.1:9170 --dns 127.0.0.1:1053 \\
    --endpoints .lab/endpoints.yaml --profile resilient
"""


def _serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run one service",
        description="Run one AWS-like service: gRPC on --listen, /metrics /healthz /readyz "
                    "on --http, dependencies resolved through the DNS server at --dns.",
        epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--service", choices=SERVICES,
                   help="which service this process is (required)")
    p.add_argument("--region", choices=catalog.REGIONS,
                   help="region the service runs in; iam, sts and signin are global and run "
                        "in us-east-1 (required)")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="gRPC listen address; port 0 picks a free one (required)")
    p.add_argument("--http", metavar="HOST:PORT",
                   help="HTTP address for /metrics, /healthz, /readyz (required)")
    p.add_argument("--dns", metavar="HOST:PORT",
                   help="the lab's DNS server; every dependency name is resolved there "
                        "(required)")
    p.add_argument("--dns-source", metavar="ADDRESS",
                   help="send DNS queries from this local address (e.g. 127.0.0.12): the "
                        "address client-scoped faults match, a pod IP's stand-in on the "
                        "local lab (default: the kernel picks)")
    p.add_argument("--endpoints", metavar="FILE.yaml",
                   help="endpoint key -> {host, port}: the DNS name to resolve and the port "
                        "to dial for each dependency (required)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--profile", metavar="NAME",
                       help="named resilience profile: "
                            + ", ".join(_profiles()) + " (default backoff-jitter)")
    group.add_argument("--policy", metavar="FILE.yaml",
                       help="resilience policy file (defaults + per-edge overrides), "
                            "instead of --profile")
    p.add_argument("--allowed-networks", metavar="CIDR[,CIDR]",
                   help="addresses dependencies may resolve to; anything else is refused "
                        "without connecting (default 127.0.0.0/8)")
    p.add_argument("--config", metavar="FILE.yaml",
                   help="optional YAML with any of these settings plus capacity/settings "
                        "overrides")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                   help="JSON log level on stderr (default info)")
    p.set_defaults(func=_serve)


def _profiles() -> list[str]:
    from chaoslab_services.common.config import available_profiles

    return available_profiles()


def _serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from chaoslab_services.common.config import build_config
    from chaoslab_services.common.server import serve

    flags = {k: getattr(args, k) for k in ("service", "region", "listen", "http", "dns",
                                           "endpoints", "profile", "policy", "config",
                                           "log_level")}
    flags["allowed_networks"] = args.allowed_networks
    flags["dns_source"] = args.dns_source
    config = build_config(flags)
    return asyncio.run(serve(config))


def _bootstrap(args: argparse.Namespace) -> int:
    from chaoslab_services.bootstrap import bootstrap

    regions = None
    if args.regions != "auto":
        regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
        bad = [r for r in regions if r not in catalog.REGIONS]
        if bad:
            raise ConfigError(f"--regions: unknown region(s) {bad}")
    summary = asyncio.run(bootstrap(
        args.endpoints, args.dns, regions=regions, customers=args.customers,
        allowed_networks=tuple(args.allowed_networks.split(","))))
    print(json.dumps(summary, indent=2))
    return 0


def _endpoints(args: argparse.Namespace) -> int:
    if args.base_port:
        ports = {e.key: args.base_port + i for i, e in enumerate(catalog.PROCESSES)}
        path = catalog.write_endpoints(args.out, ports)
    else:
        path = catalog.write_endpoints(args.out, default_port=args.port)
    print(path.read_text(), end="")
    return 0


def _catalog(_args: argparse.Namespace) -> int:
    for e in catalog.ENDPOINTS:
        deps = ",".join(catalog.dependencies(e.service, e.region))
        print(f"{e.key:22} {e.service:11} {e.region:10} {e.fqdn:36} {deps}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chaoslab_services",
        description="AWS-like gRPC service tiers of the DNS Chaos Lab.")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)

    b = sub.add_parser("bootstrap", help="seed a running lab (idempotent)",
                       description="Create tables, the IAM token key, roles, users "
                                   "(customer-N / customer-N-secret), function code, Lambda "
                                   "functions and alarms. Prints a JSON summary.")
    b.add_argument("--endpoints", required=True, metavar="FILE.yaml", help="endpoints YAML")
    b.add_argument("--dns", required=True, metavar="HOST:PORT", help="the lab's DNS server")
    b.add_argument("--regions", default="auto",
                   help="comma-separated regions to seed (default: every region whose "
                        "lambda endpoint is in --endpoints)")
    b.add_argument("--customers", type=int, default=20,
                   help="number of customer users customer-0..N-1 (default 20)")
    b.add_argument("--allowed-networks", default="127.0.0.0/8", metavar="CIDR[,CIDR]",
                   help="addresses the bootstrap may dial (default 127.0.0.0/8)")
    b.set_defaults(func=_bootstrap)

    e = sub.add_parser("endpoints", help="write an endpoints YAML",
                       description="Write the --endpoints file for every catalog endpoint.")
    e.add_argument("--out", required=True, metavar="FILE.yaml", help="file to write")
    g = e.add_mutually_exclusive_group(required=True)
    g.add_argument("--base-port", type=int,
                   help="local lab: consecutive ports from this one, one per process")
    g.add_argument("--port", type=int, help=f"cluster: one port for all (e.g. "
                                            f"{catalog.CLUSTER_PORT})")
    e.set_defaults(func=_endpoints)

    c = sub.add_parser("catalog", help="list endpoints, processes and dependencies")
    c.set_defaults(func=_catalog)
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
