"""How `make test` schedules the suite: one whole lab at a time, fleets and light tests beside.

`make test` runs two pytest-xdist workers on two cores. Two whole labs at once (a local
lab with Locust's customers, or the node lab) make each other's timings flaky, so every
module that starts one is in the work unit `lab`, which one worker runs in order. Modules
that start a smaller fleet of processes without customers (the services' test labs, the
plugin's Go build, the operator's kill loop, a headless browser) are the unit `fleet`,
run in order on the other worker at the same time: a fleet beside a lab is what the light
worker used to idle through. Every other module is a unit of its own (its module
fixtures start once) and runs on whichever worker is free. The units come from module
paths, through a scheduler of our own (`LabScheduling`): xdist's `loadgroup` reads
`xdist_group` marks into node ids in a way pytest 9 no longer sees.
`tests/test_suite_groups.py` checks that every module using a lab harness, or marked
slow, is in one of the two, and every whole lab in `lab`.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

LAB, FLEET = "lab", "fleet"

# Test modules that start a whole lab (a local lab, Locust's customers, the node lab):
# whole folders, or single modules.
LAB_FOLDERS = ("tests/node",)
LAB_MODULES = frozenset({
    "tests/experiments/test_retry_storm.py",
    "tests/lab/test_clean_shutdown.py", "tests/lab/test_client_scope.py",
    "tests/lab/test_demo.py", "tests/lab/test_game_day_report.py",
    "tests/lab/test_global_signin.py",
    "tests/lab/test_lab_failures.py", "tests/lab/test_lab_settings.py",
    "tests/lab/test_local_lab.py",
    "tests/lab/test_session_report.py", "tests/lab/test_soak.py",
    "tests/lab/test_watch_live.py",
    "tests/report/test_check_on_lab.py",
    "tests/scenarios/test_library.py",
})
# Test modules that start many processes but no whole lab: beside a lab, not beside another.
FLEET_MODULES = frozenset({
    "tests/dns/test_dns_go.py",  # compiles the plugin
    "tests/loadtest/test_locust.py",  # Locust against fake front doors
    "tests/operator/test_crash_safety.py",  # 30 timed kill-and-restart lifecycles
    "tests/report/test_browser.py",
    "tests/services/test_svc_api.py", "tests/services/test_svc_cascade.py",
    "tests/services/test_svc_dns.py",
    "tests/services/test_svc_ec2.py", "tests/services/test_svc_failover.py",
    "tests/services/test_svc_fuzz.py",
    "tests/services/test_svc_regions.py", "tests/services/test_svc_retry_modes.py",
    "tests/services/test_svc_wire_fuzz.py",
})



HEAVY = (LAB, FLEET)  # handed out first, and never both to one worker while it can help


def work_unit(module: str) -> str:
    """The unit of work a test module belongs to (its path relative to the repository)."""
    if module in LAB_MODULES or module.startswith(LAB_FOLDERS):
        return LAB
    return FLEET if module in FLEET_MODULES else module


def pick(queued: list[str], holding: set[str]) -> str:
    """The next unit for a worker already holding the unfinished units `holding`: a heavy
    unit first (the two heavy ones start at once, one per worker), but never a second heavy
    one while a light unit is left for it."""
    heavy = [u for u in queued if u in HEAVY]
    light = [u for u in queued if u not in HEAVY]
    if heavy and not holding & set(HEAVY):
        return heavy[0]
    return light[0] if light else queued[0]


class LabScheduling(LoadScopeScheduling):
    """xdist's per-scope scheduling with `lab` and `fleet` as a scope each, started first
    on different workers (xdist alone hands scopes out by test count)."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid.split("::", 1)[0])

    def _assign_work_unit(self, node: Any) -> None:
        holding = {scope for scope, tests in self.assigned_work.get(node, {}).items()
                   if not all(tests.values())}
        self.workqueue.move_to_end(pick(list(self.workqueue), holding), last=False)
        super()._assign_work_unit(node)
