"""How `make test` schedules the suite: labs one at a time, light tests beside them.

`make test` runs two pytest-xdist workers. On a machine of two cores, two labs at once make
each other's timings flaky, so every module that starts many processes (a fleet of services,
Locust, a local or node lab, a Go build) is in one work unit, `lab`, which one worker runs in
order; every other module is a unit of its own (its module fixtures start once) and runs on
whichever worker is free. The units come from module paths, through a scheduler of our own
(`LabScheduling`): xdist's `loadgroup` reads `xdist_group` marks into node ids in a way
pytest 9 no longer sees. `tests/test_suite_groups.py` checks that every module using a lab
harness, or marked slow, is in `LAB_MODULES`.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

LAB = "lab"

# Test modules that start many processes (beyond one CoreDNS, Prometheus or control plane):
# whole folders, or single modules.
LAB_FOLDERS = ("tests/node",)
LAB_MODULES = frozenset({
    "tests/dns/test_dns_go.py",  # compiles the plugin
    "tests/experiments/test_retry_storm.py",
    "tests/lab/test_clean_shutdown.py", "tests/lab/test_client_scope.py",
    "tests/lab/test_demo.py", "tests/lab/test_game_day_report.py",
    "tests/lab/test_global_signin.py",
    "tests/lab/test_lab_failures.py", "tests/lab/test_lab_settings.py",
    "tests/lab/test_local_lab.py",
    "tests/lab/test_session_report.py", "tests/lab/test_soak.py",
    "tests/lab/test_watch_live.py",
    "tests/loadtest/test_locust.py",
    "tests/operator/test_crash_safety.py",  # 30 timed kill-and-restart lifecycles
    "tests/report/test_browser.py", "tests/report/test_check_on_lab.py",
    "tests/scenarios/test_library.py",
    "tests/services/test_svc_api.py", "tests/services/test_svc_cascade.py",
    "tests/services/test_svc_dns.py",
    "tests/services/test_svc_ec2.py", "tests/services/test_svc_failover.py",
    "tests/services/test_svc_fuzz.py",
    "tests/services/test_svc_regions.py", "tests/services/test_svc_retry_modes.py",
    "tests/services/test_svc_wire_fuzz.py",
})



def work_unit(module: str) -> str:
    """The unit of work a test module belongs to (its path relative to the repository)."""
    return LAB if module in LAB_MODULES or module.startswith(LAB_FOLDERS) else module


class LabScheduling(LoadScopeScheduling):
    """xdist's per-scope scheduling with the labs as one scope. Scopes are handed out
    largest first, and `lab` (over a hundred tests) is the largest, so one worker starts
    on it at once while the other takes the light modules."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid.split("::", 1)[0])
