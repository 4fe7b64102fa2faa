"""The node's pods as the kubelet itself counts them: container restarts and memory.

The soak (`benchmarks/node_soak.py`) and the node tests judge the lab's health from the
kubelet, not from Prometheus (itself one of the pods measured, and a scrape behind): the
kubelet's `/pods` gives each pod's uid and each container's restart count, `/stats/summary`
each pod's memory (RSS and working set, from the pod's cgroup) and the bytes used by its
emptyDir volumes (Prometheus's TSDB is one). Both are read through the API server's node
proxy with the admin kubeconfig, as `kubectl get --raw` does.

`restart_problems` compares two readings: a pod that restarted a container or was replaced
without the caller having done it on purpose is a problem, and so is a deliberate kill the
kubelet never saw (the kill did not happen as intended).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaoslab.node import layout
from chaoslab.node.layout import NodePaths


@dataclass(frozen=True)
class PodFigures:
    namespace: str
    name: str
    uid: str
    component: str  # "namespace/deployment" (or job, or the pod's name): stable across replacements
    restarts: Mapping[str, int]  # container name -> restart count
    terminating: bool = False
    rss_bytes: int = 0  # 0 when the pod has no running container (a finished Job's)
    working_set_bytes: int = 0
    volumes: Mapping[str, int] = field(default_factory=dict)  # volume name -> bytes used

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def restart_count(self) -> int:
        return sum(self.restarts.values())


def component_of(pod: dict[str, Any]) -> str:
    """"namespace/owner": a Deployment's pod without its two hashes, a Job's without one."""
    meta = pod["metadata"]
    name: str = meta["name"]
    labels = meta.get("labels") or {}
    owners = {o.get("kind") for o in meta.get("ownerReferences") or []}
    if "pod-template-hash" in labels:
        name = name.rsplit("-", 2)[0]
    elif owners & {"Job", "DaemonSet", "StatefulSet"}:
        name = name.rsplit("-", 1)[0]
    return f"{meta['namespace']}/{name}"


def parse(pods: dict[str, Any], summary: dict[str, Any]) -> dict[str, PodFigures]:
    """The kubelet's `/pods` and `/stats/summary` answers, joined by pod uid."""
    stats = {entry["podRef"]["uid"]: entry for entry in summary.get("pods") or []}
    out: dict[str, PodFigures] = {}
    for pod in pods.get("items") or []:
        meta, status = pod["metadata"], pod.get("status") or {}
        statuses = [*status.get("initContainerStatuses", []),
                    *status.get("containerStatuses", [])]
        figures = stats.get(meta["uid"], {})
        memory = figures.get("memory") or {}
        figures_pod = PodFigures(
            namespace=meta["namespace"], name=meta["name"], uid=meta["uid"],
            component=component_of(pod),
            restarts={c["name"]: int(c.get("restartCount", 0)) for c in statuses},
            terminating=bool(meta.get("deletionTimestamp")),
            rss_bytes=int(memory.get("rssBytes", 0)),
            working_set_bytes=int(memory.get("workingSetBytes", 0)),
            volumes={v["name"]: int(v.get("usedBytes", 0))
                     for v in figures.get("volume") or [] if "name" in v})
        out[figures_pod.key] = figures_pod
    return out


def read(paths: NodePaths, timeout: float = 30) -> dict[str, PodFigures]:
    """Every pod of the node, from the kubelet's own endpoints ("namespace/name" -> figures)."""
    from chaoslab.node.cluster import kubectl

    base = f"/api/v1/nodes/{layout.NODE_NAME}/proxy"
    pods = json.loads(kubectl(paths, "get", "--raw", f"{base}/pods", timeout=timeout).stdout)
    summary = json.loads(kubectl(paths, "get", "--raw", f"{base}/stats/summary",
                                 timeout=timeout).stdout)
    return parse(pods, summary)


def restart_problems(start: Mapping[str, PodFigures], end: Mapping[str, PodFigures],
                     replaced: Collection[str] = (),
                     restarted: Mapping[str, int] | None = None) -> list[str]:
    """What restarted or was replaced by itself between two readings.

    `replaced`: components whose pods the caller deleted on purpose (a new pod is expected);
    `restarted`: component -> container restarts the caller caused (e.g. a SIGKILL the
    kubelet answers with a restart), which must then be seen exactly: fewer means the kill
    missed, more means something restarted by itself. Every other pod must be the very one
    of the start, with the same restart counts, and no other pod may have appeared.
    """
    restarted = restarted or {}
    problems: list[str] = []
    by_component: dict[str, tuple[list[PodFigures], list[PodFigures]]] = defaultdict(
        lambda: ([], []))
    for pod in start.values():
        by_component[pod.component][0].append(pod)
    for pod in end.values():
        by_component[pod.component][1].append(pod)
    for component, (before, after) in sorted(by_component.items()):
        was = {p.uid: p for p in before}
        if component not in replaced:
            gone = sorted(p.name for p in before if p.uid not in {q.uid for q in after})
            new = sorted(p.name for p in after if p.uid not in was)
            if gone or new:
                problems.append(f"{component}: pods replaced by themselves "
                                f"(gone: {', '.join(gone) or '-'}; new: {', '.join(new) or '-'})")
        seen = 0
        for pod in after:
            if pod.terminating and component in replaced:
                continue  # the one deleted on purpose, on its way out
            old = was.get(pod.uid)
            for container, count in pod.restarts.items():
                seen += count - (old.restarts.get(container, 0) if old else 0)
        wanted = restarted.get(component, 0)
        if seen != wanted:
            problems.append(f"{component}: {seen} container restart(s) seen by the kubelet, "
                            f"{wanted} caused on purpose")
    return problems
