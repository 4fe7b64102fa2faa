"""Ten overlapping scenarios, started and ended at random times: every version of the
ConfigMap is exactly compile(base, the scenarios it names), and at every settled
observation that set is exactly the scenarios whose status says Active."""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any

import pytest
from kubernetes import watch
from oplab import (
    ENDPOINTS,
    FINAL,
    OpLab,
    create_scenario,
    delete_scenario,
    scenario_dict,
    wait_for,
)

from chaoslab_dns.corefile import compile_corefile
from chaoslab_dns.model import Scenario
from chaoslab_dns.validate import parse_scenario
from chaoslab_operator.timeutil import parse_time

NAMESPACE = "overlap"
SEED = 1729
MODES = ["nxdomain", "servfail", "refused", "nodata", "truncate", "timeout"]
TAG = re.compile(r" scenario (\S+)$", re.M)


@pytest.fixture(scope="module", autouse=True)
def namespace(lab: OpLab) -> None:
    lab.cp.kubectl("create", "namespace", NAMESPACE)


class ConfigMapVersions:
    """Every version of the ConfigMap's Corefile, with the time it was seen."""

    def __init__(self, lab: OpLab) -> None:
        self.lab = lab
        self.versions: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.watch: watch.Watch | None = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        api = self.lab.kube.core
        while not self.stop.is_set():
            self.watch = watch.Watch()
            for event in self.watch.stream(
                api.list_namespaced_config_map, "kube-system",
                field_selector="metadata.name=coredns", timeout_seconds=5,
            ):
                text = (event["object"].data or {}).get("Corefile", "")
                if not self.versions or self.versions[-1][1] != text:
                    self.versions.append((time.time(), text))
                if self.stop.is_set():
                    return

    def __enter__(self) -> ConfigMapVersions:
        self.thread.start()
        wait_for("first ConfigMap version", lambda: self.versions, 10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def test_ten_overlapping_scenarios(lab: OpLab) -> None:
    rng = random.Random(SEED)
    targets = [*sorted(ENDPOINTS), "*.us-east-1.aws.internal", "*.aws.internal"]
    manifests: dict[str, dict[str, Any]] = {}
    actions: list[tuple[float, str, str]] = []
    for i in range(10):
        name = f"o{i}"
        faults = [{"target": t, "mode": rng.choice(MODES)}
                  for t in rng.sample(targets, rng.randint(1, 3))]
        manifests[name] = scenario_dict(
            name, faults, f"{rng.uniform(2.0, 6.0):.2f}s", NAMESPACE,
            f"{rng.choice([0, 0, 1, 2, 3])}s",
        )
        created = rng.uniform(0.0, 5.0)
        actions.append((created, "create", name))
        if i % 3 == 1:
            actions.append((created + rng.uniform(0.5, 4.0), "delete", name))
    actions.sort()
    parsed: dict[str, Scenario] = {n: parse_scenario(m) for n, m in manifests.items()}
    last_status: dict[str, dict[str, Any]] = {}
    settled: list[set[str]] = []
    skipped = 0

    def ended(names: list[str]) -> list[Scenario]:
        """The named scenarios as the operator compiles them: ending at injectedAt + duration."""
        out = []
        for name in names:
            injected_at = parse_time(last_status.get(name, {}).get("injectedAt"))
            assert injected_at is not None, f"{name} is in the Corefile but not injected"
            out.append(parsed[name].injected(injected_at))
        return out

    def snapshot() -> dict[str, tuple[str, dict[str, Any], bool]]:
        return {
            s["metadata"]["name"]: (
                s["metadata"]["resourceVersion"], s.get("status") or {},
                bool(s["metadata"].get("deletionTimestamp")),
            )
            for s in lab.scenarios()
        }

    def observe() -> None:
        nonlocal skipped
        before = snapshot()
        text = lab.configmap()
        after = snapshot()
        for name, (_, status, _) in after.items():
            last_status[name] = status
        if before != after:
            skipped += 1  # something moved meanwhile: not a consistent observation
            return
        active, injected = set(), set()
        for name, (_, status, deleting) in after.items():
            if status.get("phase") == "Active" and not deleting:
                active.add(name)
            if any(c["type"] == "Injected" and c["status"] == "True"
                   for c in status.get("conditions", [])):
                injected.add(name)
        if active != injected:
            skipped += 1  # a transition is between its status write and its ConfigMap write
            return
        assert text == compile_corefile(lab.base, ended(sorted(active))), (
            f"ConfigMap does not match the active set {sorted(active)}"
        )
        settled.append(active)

    with ConfigMapVersions(lab) as versions:
        t0 = time.monotonic()
        pending = list(actions)
        while time.monotonic() - t0 < 40:
            now = time.monotonic() - t0
            while pending and pending[0][0] <= now:
                _, action, name = pending.pop(0)
                if action == "create":
                    create_scenario(lab, manifests[name])
                else:
                    delete_scenario(lab, name, NAMESPACE)
            observe()
            current = snapshot()
            if not pending and all(
                st.get("phase") in FINAL and not deleting for _, st, deleting in current.values()
            ):
                break
            time.sleep(rng.uniform(0.0, 0.1))
        wait_for("all final", lambda: all(
            (s.get("status") or {}).get("phase") in FINAL for s in lab.scenarios()), 15)
        wait_for("pristine", lambda: lab.configmap() == lab.base, 10)
        observe()

    print(f"settled={len(settled)} skipped={skipped} max_overlap={max(len(s) for s in settled)} "
          f"versions={len(versions.versions)}")
    assert len(settled) >= 30, (len(settled), skipped)
    assert max(len(s) for s in settled) >= 3, "the scenarios never overlapped"
    assert settled[-1] == set()
    # Every version the ConfigMap ever had is exactly compile(base, the scenarios it names),
    # and names a scenario only after its status recorded the injection.
    assert len(versions.versions) >= 6
    for seen_at, text in versions.versions:
        names = sorted({key.split("/", 1)[1] for key in TAG.findall(text)})
        assert text == compile_corefile(lab.base, ended(names))
        for name in names:
            injected_at = parse_time(last_status.get(name, {}).get("injectedAt"))
            assert injected_at is not None and injected_at <= seen_at, name
            ended_at = parse_time(last_status.get(name, {}).get("endedAt"))
            assert ended_at is None or seen_at <= ended_at + 1.0, name
    assert versions.versions[-1][1] == lab.base
    lab.cp.kubectl("delete", "outagescenarios", "--all", "-n", NAMESPACE, "--timeout=30s")
