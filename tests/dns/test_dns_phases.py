"""spec.phases and spec.schedule in the model, the validator and the compiler (pure).

A phased scenario compiles whole: every phase's rules at once, each with its absolute
window, so the text is a function of the scenario and its injection time alone and
CoreDNS's clock keeps the boundaries."""

from __future__ import annotations

from typing import Any

import pytest

from chaoslab_dns.basefiles import local_corefile
from chaoslab_dns.corefile import compile_corefile, marked_faults
from chaoslab_dns.model import ConcurrencyPolicy, Mode, Schedule
from chaoslab_dns.validate import ScenarioError, parse_spec

DDB = "dynamodb.us-east-1.aws.internal"
STS = "sts.aws.internal"
T0 = 1_764_648_000.0  # 2025-12-02T04:00:00Z
BASE = local_corefile(5353, 9153, {DDB: "127.0.0.1", STS: "127.0.0.1"})


def phases(**extra: Any) -> dict[str, Any]:
    return {"phases": [
        {"name": "empty record", "faults": [{"target": DDB, "mode": "nodata"}],
         "duration": "60s"},
        {"name": "caches drain", "faults": [{"target": DDB, "mode": "nodata",
                                              "probability": 0.4}], "duration": "45s"},
        {"name": "sts blip", "startAfter": "30s", "duration": "20s",
         "faults": [{"target": STS, "mode": "servfail"}]},
    ], **extra}


def test_phases_are_windows_after_injection() -> None:
    sc = parse_spec(phases(startAfter="5s"), "gameday", "p")
    assert [(p.name, p.start, p.end) for p in sc.phases] == [
        ("empty record", 0, 60), ("caches drain", 60, 105), ("sts blip", 135, 155)]
    assert sc.duration == 155 and sc.start_after == 5  # the whole scenario, gaps included
    assert [f.target for f in sc.faults] == [DDB, DDB, STS]  # one index for every fault
    assert sc.fault_windows() == ((0, 60), (60, 105), (135, 155))
    assert sc.fault_field(2) == "spec.phases[2].faults[0]"
    assert [p.name for p in parse_spec({"phases": [
        {"faults": [{"target": DDB, "mode": "nodata"}], "duration": "1s"}] * 2}, "g", "p"
    ).phases] == ["phase 1", "phase 2"]


def test_every_phase_is_compiled_at_once_with_its_window() -> None:
    sc = parse_spec(phases(), "gameday", "p").injected(T0)
    assert marked_faults(compile_corefile(BASE, [sc])) == [
        f"fault {DDB} nodata until 2025-12-02T04:01:00Z scenario gameday/p",
        f"fault {DDB} nodata probability 0.4 from 2025-12-02T04:01:00Z "
        "until 2025-12-02T04:01:45Z scenario gameday/p",
        f"fault {STS} servfail from 2025-12-02T04:02:15Z until 2025-12-02T04:02:35Z "
        "scenario gameday/p",
    ]


def test_the_text_does_not_depend_on_when_it_is_compiled() -> None:
    """The operator recompiles every pass; only the injection time enters the text, so a
    phase boundary writes nothing (and an unphased scenario compiles as before)."""
    sc = parse_spec(phases(), "gameday", "p")
    a = compile_corefile(BASE, [sc.injected(T0)])
    assert a == compile_corefile(BASE, [parse_spec(phases(), "gameday", "p").injected(T0)])
    first = parse_spec(phases(), "gameday", "p").phases[0]
    plain = parse_spec({"faults": [{"target": DDB, "mode": "nodata"}], "duration": "60s"},
                       "gameday", "p").injected(T0)
    assert marked_faults(compile_corefile(BASE, [plain]))[0] == marked_faults(a)[0]
    assert first.start == 0


def test_a_first_phase_after_a_gap_starts_with_from() -> None:
    spec = phases()
    spec["phases"][0]["startAfter"] = "10s"
    lines = marked_faults(compile_corefile(BASE, [parse_spec(spec, "g", "p").injected(T0)]))
    assert lines[0] == (f"fault {DDB} nodata from 2025-12-02T04:00:10Z "
                        "until 2025-12-02T04:01:10Z scenario g/p")


def test_schedule_is_parsed_with_defaults() -> None:
    sc = parse_spec({**phases(), "schedule": {"cron": "*/5  * * * *"}}, "g", "p")
    assert sc.schedule == Schedule(cron="*/5 * * * *", concurrency_policy=ConcurrencyPolicy.FORBID,
                                   suspend=False, history_limit=3)
    sc = parse_spec({"faults": [{"target": DDB, "mode": "nodata"}], "duration": "1m",
                     "schedule": {"cron": "0 9 * * mon", "concurrencyPolicy": "Allow",
                                  "suspend": True, "historyLimit": 5}}, "g", "p")
    assert sc.schedule == Schedule("0 9 * * mon", ConcurrencyPolicy.ALLOW, True, 5)
    assert sc.faults[0].mode is Mode.NODATA


def bad_phase(**kw: Any) -> dict[str, Any]:
    return {"phases": [{"faults": [{"target": DDB, "mode": "nodata"}], "duration": "1m", **kw}]}


MALFORMED = [
    ("faults beside phases", {**phases(), "faults": [{"target": DDB, "mode": "nodata"}]},
     "spec.faults", "cannot be given with spec.phases"),
    ("duration beside phases", {**phases(), "duration": "1m"}, "spec.duration",
     "each phase has its own faults and duration"),
    ("neither", {}, "spec.faults", "or spec.phases instead"),
    ("no phases", {"phases": []}, "spec.phases", "1 to 8 phases"),
    ("nine phases", {"phases": bad_phase()["phases"] * 9}, "spec.phases", "got 9"),
    ("phase without duration", {"phases": [{"faults": [{"target": DDB, "mode": "nodata"}]}]},
     "spec.phases[0].duration", "is required"),
    ("phase without faults", {"phases": [{"duration": "1m"}]}, "spec.phases[0].faults",
     "is required"),
    ("phase over 24h", bad_phase(duration="25h"), "spec.phases[0].duration", "at most 24h"),
    ("phase under 1s", bad_phase(duration="500ms"), "spec.phases[0].duration", "at least 1s"),
    ("gap over 24h", bad_phase(startAfter="25h"), "spec.phases[0].startAfter", "at most 24h"),
    ("bad gap", bad_phase(startAfter="soon"), "spec.phases[0].startAfter", "invalid duration"),
    ("unknown phase field", bad_phase(stopConditions=[]), "spec.phases[0].stopConditions",
     "unknown field"),
    ("bad fault in a phase", {"phases": [{"faults": [{"target": DDB, "mode": "boom"}],
                                          "duration": "1m"}]},
     "spec.phases[0].faults[0].mode", "invalid mode"),
    ("whole scenario over 24h", {"phases": bad_phase(duration="13h")["phases"] * 2},
     "spec.phases", "the whole scenario must be at most 24h"),
    ("names repeated", {"phases": bad_phase(name="a")["phases"] * 2}, "spec.phases[1].name",
     "used twice"),
    ("cron of four fields", {**phases(), "schedule": {"cron": "* * * *"}},
     "spec.schedule.cron", "want five fields"),
    ("cron minute 61", {**phases(), "schedule": {"cron": "61 * * * *"}},
     "spec.schedule.cron", "outside 0-59"),
    ("no cron", {**phases(), "schedule": {"suspend": True}}, "spec.schedule.cron",
     "is required"),
    ("bad policy", {**phases(), "schedule": {"cron": "* * * * *", "concurrencyPolicy": "Replace"}},
     "spec.schedule.concurrencyPolicy", "want Forbid"),
    ("history 0", {**phases(), "schedule": {"cron": "* * * * *", "historyLimit": 0}},
     "spec.schedule.historyLimit", "from 1 to 20"),
    ("suspend as text", {**phases(), "schedule": {"cron": "* * * * *", "suspend": "yes"}},
     "spec.schedule.suspend", "true or false"),
]


@pytest.mark.parametrize(("case", "spec", "field", "says"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_names_the_field(case: str, spec: dict[str, Any], field: str,
                                   says: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_spec(spec, "g", "p")
    assert err.value.field == field, str(err.value)
    assert says in err.value.message, str(err.value)
