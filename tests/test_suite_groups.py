"""The suite's own scheduling rule (chaoslab.testkit.suite): every test module that starts
a whole lab is in the `lab` work unit, so `make test`'s two workers never run two labs at
once; a module that starts a smaller fleet of processes is in `lab` or `fleet`, so never
two fleets at once either.

A module counts as starting processes when it uses one of the lab harnesses (`LocalLab`,
the services' test lab, the `chaoslab` command's lab-starting subcommands) or is marked
slow; a whole lab is `LocalLab` or the `chaoslab` command's; the node lab's tests are a
folder of the unit.
"""

from __future__ import annotations

import re
from pathlib import Path

from chaoslab.testkit.suite import FLEET, LAB, pick, work_unit

ROOT = Path(__file__).resolve().parent.parent
STARTS_A_LAB = re.compile(
    r"LocalLab\(|\btestlab\.Lab\(|CHAOSLAB, \"(up|demo|experiment)\"|\"up\", \"--local\""
    r"|pytest\.mark\.slow")


def lab_starting_modules() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")
                  if p.name != Path(__file__).name and STARTS_A_LAB.search(p.read_text()))


WHOLE_LAB = re.compile(r"LocalLab\(|CHAOSLAB, \"(up|demo|experiment)\"|\"up\", \"--local\"")


def test_every_module_that_starts_a_lab_is_in_the_lab_unit() -> None:
    found = lab_starting_modules()
    assert "tests/lab/test_session_report.py" in found  # the pattern sees `chaoslab up`
    assert "tests/services/test_svc_cascade.py" in found  # and the services' test lab
    light = [m for m in found if work_unit(m) not in (LAB, FLEET)]
    assert not light, ("start processes but may run beside another fleet: add to "
                       f"LAB_MODULES or FLEET_MODULES: {light}")
    whole = [m for m in found if WHOLE_LAB.search((ROOT / m).read_text())]
    assert "tests/lab/test_demo.py" in whole
    beside = [m for m in whole if work_unit(m) != LAB]
    assert not beside, f"start a whole lab but may run beside one: add to LAB_MODULES: {beside}"


def test_the_two_heavy_units_start_on_different_workers() -> None:
    queued = ["tests/lab/test_watch_frame.py", FLEET, "tests/dns/test_dns_cron.py", LAB]
    first = pick(queued, set())
    assert first in (LAB, FLEET)
    queued.remove(first)
    assert pick(queued, set()) in (LAB, FLEET) and pick(queued, set()) != first
    assert pick(queued, {first}) == "tests/lab/test_watch_frame.py"  # not both heavy ones
    assert pick([LAB], {FLEET}) == LAB  # at the very end, the other worker takes it


def test_light_modules_are_units_of_their_own() -> None:
    assert work_unit("tests/dns/test_dns_corefile.py") == "tests/dns/test_dns_corefile.py"
    assert work_unit("tests/node/test_node_configs.py") == LAB
