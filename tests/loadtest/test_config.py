"""Load configuration: layering, targets from each source, and errors that quote the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from chaoslab_loadtest import config
from chaoslab_loadtest.runner import LOCUSTFILE, locust_command


def test_packaged_defaults_with_a_lab_state(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"services": {"iam": "127.0.0.1:5001",
                                              "lambda.us-east-1": "127.0.0.1:5002"},
                                 "dns": "127.0.0.1:5353"}))
    cfg = config.load(lab_state=str(state))
    # customers resolve the front doors at the lab's own DNS, as SDKs do
    assert cfg.customer_dns == "resolve" and cfg.dns == "127.0.0.1:5353"
    assert config.load(lab_state=str(state), customer_dns="direct").customer_dns == "direct"
    assert cfg.target("iam") == "127.0.0.1:5001"
    assert cfg.front_door("invoke", "us-east-1") == "lambda.us-east-1"
    assert cfg.front_door("signin", "us-west-2") == "signin"  # the console sign-in is global
    # launch (EC2) is off by default: the stock fleet stays collapsed after a DynamoDB fault
    assert set(cfg.enabled_workflows()) == set(config.WORKFLOW_NAMES) - {"launch"}
    assert cfg.front_door("launch", "us-west-2") == "ec2.us-west-2"
    assert cfg.customers.identity(21) == ("customer-1", "customer-1-secret")
    with pytest.raises(config.ConfigError, match=r"'s3\.us-east-1'"):
        cfg.target("s3.us-east-1")


def test_endpoints_file_with_host_override(tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(yaml.safe_dump({"iam": {"host": "iam.aws.internal", "port": 7000}}))
    assert config.load(endpoints=str(endpoints), customer_dns="direct").target("iam") == \
        "iam.aws.internal:7000"
    user = tmp_path / "user.yaml"
    user.write_text(yaml.safe_dump({"endpoint_host": "127.0.0.1", "users": 7,
                                    "customer_dns": "direct",
                                    "workflow_weights": {"items": 0}}))
    cfg = config.load(user, endpoints=str(endpoints), regions="us-east-1,us-west-2",
                      workflow_weights="signin=9")
    assert cfg.target("iam") == "127.0.0.1:7000"
    assert cfg.users == 7 and cfg.regions == ("us-east-1", "us-west-2")
    assert cfg.workflow_weights["signin"] == 9 and "items" not in cfg.enabled_workflows()


@pytest.mark.parametrize(("text", "quoted"), [
    ("signin=3,bogus=1", "'bogus=1'"),
    ("signin", "'signin'"),
    ("invoke=x", "'x'"),
    ("items=-1", "'-1'"),
])
def test_bad_weights_are_quoted(text: str, quoted: str) -> None:
    with pytest.raises(config.ConfigError, match=quoted):
        config.parse_weights(text)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="start the lab"):
        config.load(lab_state=str(tmp_path / "missing.json"))
    targets = {"targets": {"iam": "127.0.0.1:1"}, "customer_dns": "direct"}
    with pytest.raises(config.ConfigError, match="needs the lab's DNS server"):
        config.from_mapping({"targets": {"iam": "127.0.0.1:1"}},  # resolve, and no dns
                            workflow_weights="signin=1")
    with pytest.raises(config.ConfigError, match="'dig'"):
        config.from_mapping({**targets, "customer_dns": "dig"}, workflow_weights="signin=1")
    with pytest.raises(config.ConfigError, match="'colour'"):
        config.from_mapping({**targets, "colour": "blue"})
    with pytest.raises(config.ConfigError, match="'eu-west-1'"):
        config.from_mapping(targets, regions="eu-west-1")
    with pytest.raises(config.ConfigError, match="nothing to run"):
        config.from_mapping(targets, workflow_weights="signin=0,invoke=0,metrics=0,items=0")
    with pytest.raises(config.ConfigError, match="'ubuntu'"):
        config.from_mapping({**targets, "ec2_image": "ubuntu"}, workflow_weights="launch=1")
    with pytest.raises(config.ConfigError, match="wait_time"):
        config.from_mapping({**targets, "wait_time": [2, 1]})


def test_runner_command_lines(tmp_path: Path) -> None:
    argv, env = locust_command(state_file=tmp_path / "s.json", users=5, spawn_rate=2,
                               web_port=8089, metrics_port=9646, headless=False)
    assert argv[1:5] == ["-m", "locust", "-f", str(LOCUSTFILE)]
    assert "--autostart" in argv and "--headless" not in argv
    assert argv[argv.index("--web-port") + 1] == "8089"
    assert argv[argv.index("--metrics-port") + 1] == "9646"
    assert argv[argv.index("--lab-state") + 1] == str(tmp_path / "s.json")
    assert env["PYTHONUNBUFFERED"] == "1"
    head = locust_command(run_time="1m", role="master", master_port=5557, expect_workers=2)
    assert {"--headless", "--master", "--run-time"} <= set(head.argv)
    worker = locust_command(role="worker", master_port=5557, users=3).argv
    assert "--worker" in worker and "--users" not in worker
    with pytest.raises(ValueError, match="'boss'"):
        locust_command(role="boss")
