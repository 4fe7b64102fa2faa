"""How an experiment shapes its labs and scenarios, without starting one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaoslab.experiment.labtuning import LabTuning
from chaoslab.experiment.runner import ProfileSpec
from chaoslab.experiment.scenario import ScenarioFile, parse_seconds
from chaoslab.local.runtime import LabOptions
from chaoslab.toolpaths import REPO_ROOT
from chaoslab_dns.validate import ScenarioError


def test_tuning_reaches_only_the_components_it_names(tmp_path: Path) -> None:
    options = LabTuning.default().apply(LabOptions(profile="naive"), tmp_path)
    capacity = yaml.safe_load(Path(options.service_configs["iam"]).read_text())["capacity"]
    assert capacity["max_concurrency"] == 2 and capacity["queue_limit"] == 256
    assert "lambda" not in options.service_configs
    assert options.policy is None and options.profile == "naive"
    assert options.load_config is not None
    assert yaml.safe_load(options.load_config.read_text()) == {"timeout": 1.0, "attempts": 3}


def test_stock_tuning_changes_nothing(tmp_path: Path) -> None:
    base = LabOptions(profile="naive")
    assert LabTuning.stock().apply(base, tmp_path) == base
    assert list(tmp_path.iterdir()) == []


def test_a_policy_file_replaces_the_named_profile(tmp_path: Path) -> None:
    policy = tmp_path / "tight-budget.yaml"
    policy.write_text("defaults: {timeout: 1s}\n")
    spec = ProfileSpec.parse(str(policy))
    assert spec.label == "tight-budget" and spec.policy == policy.resolve()
    options = LabTuning.stock().with_policy(spec.policy).apply(LabOptions(), tmp_path / "t")
    assert str(options.policy) == str(policy.resolve())


def test_profiles_are_checked() -> None:
    assert ProfileSpec.parse("resilient") == ProfileSpec("resilient", "resilient")
    with pytest.raises(ValueError, match="unknown profile 'reckless'"):
        ProfileSpec.parse("reckless")


def test_a_shortened_scenario_is_validated_again(tmp_path: Path) -> None:
    storm = ScenarioFile.load(REPO_ROOT / "scenarios" / "retry-storm.yaml")
    assert storm.profile_hint == "naive" and "naive" in storm.hypothesis
    short = storm.modified(duration=12)
    assert short.duration == 12 and short.manifest["spec"]["duration"] == "12s"
    assert storm.duration == 30  # the original is untouched
    written = yaml.safe_load(short.write(tmp_path).read_text())
    assert written["spec"]["duration"] == "12s"
    assert written["metadata"]["annotations"] == storm.annotations
    with pytest.raises(ScenarioError):
        storm.modified(duration=25 * 3600)  # longer than the CRD's 24 h


def test_durations_on_the_command_line() -> None:
    assert parse_seconds("90") == 90.0
    assert parse_seconds("1m30s") == 90.0
    assert parse_seconds("500ms") == 0.5


def test_saved_data_gives_the_same_report(tmp_path: Path) -> None:
    from game_day_data import REVERT, cascade

    from chaoslab.experiment import compare, saved
    from chaoslab_report.build import Collected, analyse
    from chaoslab_report.timeline import Fault

    lab = cascade(recover_at=REVERT + 4)
    original = lab.report(faults=(Fault("dynamodb.us-east-1.aws.internal", "nodata"),))
    sc = original.scenarios[0]
    data = Collected(original.start, original.end, original.step, lab.series)
    saved.dump(data, [sc.window], tmp_path / "data.json")
    again_data, timeline = saved.load(tmp_path / "data.json")
    assert timeline == [sc.window]
    again = analyse(again_data, timeline, slo=0.99, hold=10.0)
    assert compare.row("x", again) == compare.row("x", original)
