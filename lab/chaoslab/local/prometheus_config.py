"""Prometheus scrape configuration for the local lab (pure: targets in, YAML out).

Every component is its own job so dashboards and the report can select by `job`; a 1 s
scrape interval lets a short game day still show the order in which tiers fell.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml


def scrape_config(
    targets: Mapping[str, str],
    labels: Mapping[str, Mapping[str, str]] | None = None,
    interval: str = "1s",
) -> str:
    """`targets`: job name -> "host:port" serving /metrics; `labels`: extra target labels."""
    jobs = []
    for job in sorted(targets):
        static: dict[str, object] = {"targets": [targets[job]]}
        if labels and job in labels:
            static["labels"] = dict(labels[job])
        jobs.append({"job_name": job, "static_configs": [static]})
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "scrape_timeout": interval},
        "scrape_configs": jobs,
    }
    return yaml.safe_dump(config, sort_keys=False)
