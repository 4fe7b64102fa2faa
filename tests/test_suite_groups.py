"""The suite's own scheduling rule: every test module that starts a lab is in the `lab`
work unit, so `make test`'s two workers never run two labs at once (chaoslab.testkit.suite).

A module counts as starting a lab when it uses one of the lab harnesses (`LocalLab`, the
services' test lab, the `chaoslab` command's lab-starting subcommands) or is marked slow;
the node lab's tests are a folder of the unit.
"""

from __future__ import annotations

import re
from pathlib import Path

from chaoslab.testkit.suite import LAB, work_unit

ROOT = Path(__file__).resolve().parent.parent
STARTS_A_LAB = re.compile(
    r"LocalLab\(|\btestlab\.Lab\(|CHAOSLAB, \"(up|demo|experiment)\"|\"up\", \"--local\""
    r"|pytest\.mark\.slow")


def lab_starting_modules() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")
                  if p.name != Path(__file__).name and STARTS_A_LAB.search(p.read_text()))


def test_every_module_that_starts_a_lab_is_in_the_lab_unit() -> None:
    found = lab_starting_modules()
    assert "tests/lab/test_session_report.py" in found  # the pattern sees `chaoslab up`
    assert "tests/services/test_svc_cascade.py" in found  # and the services' test lab
    light = [m for m in found if work_unit(m) != LAB]
    assert not light, f"start a lab but may run beside another: add to LAB_MODULES: {light}"


def test_light_modules_are_units_of_their_own() -> None:
    assert work_unit("tests/dns/test_dns_corefile.py") == "tests/dns/test_dns_corefile.py"
    assert work_unit("tests/node/test_node_configs.py") == LAB
