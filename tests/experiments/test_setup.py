"""How an experiment shapes its labs and scenarios, without starting one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaoslab.experiment.labtuning import LabTuning
from chaoslab.experiment.runner import ProfileSpec
from chaoslab.experiment.scenario import ScenarioFile, parse_seconds
from chaoslab.toolpaths import REPO_ROOT
from chaoslab_dns.validate import ScenarioError

SERVICE_ARGV = ["python", "-m", "chaoslab_services", "serve", "--service", "iam",
                "--profile", "naive", "--allowed-networks", "127.0.0.0/8"]


def test_tuning_reaches_only_the_components_it_names(tmp_path: Path) -> None:
    tuning = LabTuning.default()
    files = tuning.write(tmp_path)
    iam = tuning.argv_for("service-iam", list(SERVICE_ARGV), files)
    assert iam[-2:] == ["--config", str(files["iam"])]
    capacity = yaml.safe_load(files["iam"].read_text())["capacity"]
    assert capacity["max_concurrency"] == 2 and capacity["queue_limit"] == 256
    lam = tuning.argv_for("service-lambda.us-east-1", list(SERVICE_ARGV), files)
    assert lam == SERVICE_ARGV
    locust = tuning.argv_for("locust", ["python", "-m", "locust"], files)
    assert locust[-2:] == ["--chaoslab-config", str(files["load"])]
    assert yaml.safe_load(files["load"].read_text()) == {"timeout": 1.0, "attempts": 3}
    assert tuning.argv_for("coredns", ["coredns"], files) == ["coredns"]


def test_stock_tuning_changes_nothing(tmp_path: Path) -> None:
    tuning = LabTuning.stock()
    files = tuning.write(tmp_path)
    assert files == {}
    assert tuning.argv_for("service-iam", list(SERVICE_ARGV), files) == SERVICE_ARGV


def test_a_policy_file_replaces_the_named_profile(tmp_path: Path) -> None:
    policy = tmp_path / "tight-budget.yaml"
    policy.write_text("defaults: {timeout: 1s}\n")
    spec = ProfileSpec.parse(str(policy))
    assert spec.label == "tight-budget" and spec.policy == policy.resolve()
    tuning = LabTuning.stock().with_policy(spec.policy)
    argv = tuning.argv_for("service-iam", list(SERVICE_ARGV), {})
    assert "--profile" not in argv
    assert argv[argv.index("--policy") + 1] == str(policy.resolve())


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
