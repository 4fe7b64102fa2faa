"""Service behaviour through the real processes: happy paths, bad input, overload, probes."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaoslab.testkit import services as testlab
from chaoslab_services.common.client import LabClient
from chaoslab_services.protos import (
    cloudwatch_pb2,
    cloudwatch_pb2_grpc,
    dynamodb_pb2,
    dynamodb_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    kms_pb2,
    kms_pb2_grpc,
    lambda_pb2,
    lambda_pb2_grpc,
    s3_pb2,
    s3_pb2_grpc,
    sts_pb2,
)

T = 5.0
MiB = 1024 * 1024

METRIC_NAMES = [
    "chaoslab_service_requests_total", "chaoslab_service_request_duration_seconds",
    "chaoslab_service_dependency_calls_total", "chaoslab_service_dependency_attempts_total",
    "chaoslab_service_retries_total", "chaoslab_service_breaker_state",
    "chaoslab_service_queue_depth", "chaoslab_service_inflight", "chaoslab_service_shed_total",
    "chaoslab_service_dns_cache_total",
]


@pytest.fixture(scope="module")
def lab(coredns_binary, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("api")
    cw = workdir / "cloudwatch.yaml"
    cw.write_text(yaml.safe_dump({"settings": {"alarm_eval_interval": "500ms"}}))
    lam = workdir / "lambda.yaml"
    lam.write_text(yaml.safe_dump({"settings": {"metrics_flush_interval": "300ms"}}))
    with testlab.Lab(workdir, configs={"cloudwatch.us-east-1": cw, "lambda.us-east-1": lam},
                     without=("ec2",)) as lab:
        lab.bootstrap(customers=3)
        yield lab


@pytest.fixture(scope="module")
def stubs(lab):
    def ch(key):
        return grpc.insecure_channel(lab.address(key), options=[
            ("grpc.max_send_message_length", 8 * MiB)])
    return {
        "dynamodb": dynamodb_pb2_grpc.DynamoDBStub(ch("dynamodb.us-east-1")),
        "kms": kms_pb2_grpc.KMSStub(ch("kms.us-east-1")),
        "iam": iam_pb2_grpc.IAMStub(ch("iam")),
        "s3": s3_pb2_grpc.S3Stub(ch("s3.us-east-1")),
        "lambda": lambda_pb2_grpc.LambdaStub(ch("lambda.us-east-1")),
        "cloudwatch": cloudwatch_pb2_grpc.CloudWatchStub(ch("cloudwatch.us-east-1")),
    }


@pytest.fixture(scope="module")
def token(stubs):
    return stubs["iam"].Authenticate(iam_pb2.AuthenticateRequest(
        user="customer-0", secret="customer-0-secret"), timeout=T).token


@pytest.fixture(scope="module")
def admin_token(stubs):
    return stubs["iam"].Authenticate(iam_pb2.AuthenticateRequest(
        user="lab-admin", secret="lab-admin-secret"), timeout=T).token


def code_of(fn):
    try:
        fn()
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def test_dynamodb_conditional_writes_query_delete(stubs):
    ddb = stubs["dynamodb"]
    ddb.CreateTable(dynamodb_pb2.CreateTableRequest(table="t1"), timeout=T)
    assert not ddb.CreateTable(dynamodb_pb2.CreateTableRequest(table="t1"), timeout=T).created
    put = dynamodb_pb2.PutItemRequest(
        table="t1", item=dynamodb_pb2.Item(pk="a", sk="1", attributes={"v": "x"}),
        condition=dynamodb_pb2.Condition(attribute_not_exists=["pk"]))
    ddb.PutItem(put, timeout=T)
    code, details = code_of(lambda: ddb.PutItem(put, timeout=T))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "conditional" in details
    cas = dynamodb_pb2.PutItemRequest(
        table="t1", item=dynamodb_pb2.Item(pk="a", sk="1", attributes={"v": "y"}),
        condition=dynamodb_pb2.Condition(expected=[dynamodb_pb2.ExpectedValue(
            attribute="v", value="x")]))
    ddb.PutItem(cas, timeout=T)
    assert code_of(lambda: ddb.PutItem(cas, timeout=T))[0] == grpc.StatusCode.FAILED_PRECONDITION
    ddb.PutItem(dynamodb_pb2.PutItemRequest(table="t1", item=dynamodb_pb2.Item(pk="a", sk="0")),
                timeout=T)
    got = ddb.GetItem(dynamodb_pb2.GetItemRequest(table="t1", pk="a", sk="1"), timeout=T)
    assert got.found and got.item.attributes["v"] == "y"
    q = ddb.Query(dynamodb_pb2.QueryRequest(table="t1", pk="a"), timeout=T)
    assert [i.sk for i in q.items] == ["0", "1"]
    assert ddb.DeleteItem(dynamodb_pb2.DeleteItemRequest(table="t1", pk="a", sk="0"),
                          timeout=T).deleted
    assert not ddb.GetItem(dynamodb_pb2.GetItemRequest(table="t1", pk="a", sk="0"),
                           timeout=T).found
    code, details = code_of(lambda: ddb.GetItem(dynamodb_pb2.GetItemRequest(
        table="missing", pk="a"), timeout=T))
    assert code == grpc.StatusCode.NOT_FOUND and "missing" in details


def test_kms_sign_verify(stubs):
    kms = stubs["kms"]
    key = kms.CreateKey(kms_pb2.CreateKeyRequest(alias="alias/test"), timeout=T)
    again = kms.CreateKey(kms_pb2.CreateKeyRequest(alias="alias/test"), timeout=T)
    assert again.key_id == key.key_id and not again.created
    sig = kms.Sign(kms_pb2.SignRequest(key_id="alias/test", message=b"hello"), timeout=T)
    ok = kms.Verify(kms_pb2.VerifyRequest(key_id=key.key_id, message=b"hello",
                                          signature=sig.signature), timeout=T)
    bad = kms.Verify(kms_pb2.VerifyRequest(key_id=key.key_id, message=b"hellO",
                                           signature=sig.signature), timeout=T)
    assert ok.valid and not bad.valid


def test_iam_authorize_decisions_and_expiry(stubs, token):
    iam = stubs["iam"]
    allowed = iam.Authorize(iam_pb2.AuthorizeRequest(
        token=token, action="lambda:InvokeFunction", resource="arn:x"), timeout=T)
    assert allowed.allowed and allowed.principal.endswith("user/customer-0")
    denied = iam.Authorize(iam_pb2.AuthorizeRequest(
        token=token, action="lambda:CreateFunction", resource="arn:x"), timeout=T)
    assert not denied.allowed
    for bad in ("", "garbage", "v1." + "0" * 32 + "." + "A" * 43):
        code, _ = code_of(lambda bad=bad: iam.Authorize(iam_pb2.AuthorizeRequest(
            token=bad, action="s3:GetObject", resource="*"), timeout=T))
        assert code == grpc.StatusCode.UNAUTHENTICATED
    code, _ = code_of(lambda: iam.Authenticate(iam_pb2.AuthenticateRequest(
        user="customer-0", secret="wrong"), timeout=T))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    short = iam.Authenticate(iam_pb2.AuthenticateRequest(
        user="customer-1", secret="customer-1-secret", duration_seconds=1), timeout=T).token
    time.sleep(1.2)
    code, details = code_of(lambda: iam.Authorize(iam_pb2.AuthorizeRequest(
        token=short, action="lambda:InvokeFunction", resource="*"), timeout=T))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "expired" in details
    code, _ = code_of(lambda: stubs["lambda"].Invoke(lambda_pb2.InvokeRequest(
        token=short, function="order-counter", payload={"customer": "customer-1"}), timeout=T))
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_sts_is_served_as_sts_aws_internal(lab):
    import asyncio

    async def run():
        client = LabClient(lab.endpoints, lab.dns.address)
        try:
            tok = await client.call("sts", "GetSessionToken", sts_pb2.GetSessionTokenRequest(
                user="customer-2", secret="customer-2-secret"))
            who = await client.call("sts", "GetCallerIdentity",
                                    sts_pb2.GetCallerIdentityRequest(token=tok.token))
            return who
        finally:
            await client.close()

    who = asyncio.run(run())
    assert who.user == "customer-2" and who.role == "customer"


def test_s3_objects(stubs):
    s3 = stubs["s3"]
    s3.CreateBucket(s3_pb2.CreateBucketRequest(bucket="b1"), timeout=T)
    etag = s3.PutObject(s3_pb2.PutObjectRequest(bucket="b1", key="k/1", body=b"abc"),
                        timeout=T).etag
    got = s3.GetObject(s3_pb2.GetObjectRequest(bucket="b1", key="k/1"), timeout=T)
    assert got.body == b"abc" and got.etag == etag
    assert code_of(lambda: s3.GetObject(s3_pb2.GetObjectRequest(bucket="b1", key="nope"),
                                        timeout=T))[0] == grpc.StatusCode.NOT_FOUND


def test_lambda_cold_start_then_warm_and_metrics_reach_cloudwatch(stubs, token):
    lam, cw = stubs["lambda"], stubs["cloudwatch"]
    req = lambda_pb2.InvokeRequest(token=token, function="profile-read",
                                   payload={"customer": "customer-0"})
    first = lam.Invoke(req, timeout=T)
    second = lam.Invoke(req, timeout=T)
    assert first.cold_start and not second.cold_start
    assert second.result == {"customer": "customer-0", "tier": "gold"}
    code, details = code_of(lambda: lam.Invoke(lambda_pb2.InvokeRequest(
        token=token, function="profile-read"), timeout=T))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "payload.customer" in details
    code, _ = code_of(lambda: lam.Invoke(lambda_pb2.InvokeRequest(
        token=token, function="no-such-fn", payload={}), timeout=T))
    assert code == grpc.StatusCode.NOT_FOUND
    deadline = time.monotonic() + 10
    total = 0.0
    while time.monotonic() < deadline and total < 2:
        now = time.time()
        stats = cw.GetMetricStatistics(cloudwatch_pb2.GetMetricStatisticsRequest(
            token=token, namespace="AWS/Lambda", metric_name="Invocations",
            dimensions={"FunctionName": "profile-read"}, start_time=now - 60,
            end_time=now + 1, period_seconds=60), timeout=T)
        total = sum(d.sum for d in stats.datapoints)
        time.sleep(0.2)
    assert total >= 2


def test_cloudwatch_alarm_goes_to_alarm_state(stubs, admin_token):
    cw = stubs["cloudwatch"]
    cw.PutMetricAlarm(cloudwatch_pb2.PutMetricAlarmRequest(token=admin_token, alarm=(
        cloudwatch_pb2.Alarm(name="hot", namespace="Test", metric_name="Heat",
                             statistic="Maximum", period_seconds=1, evaluation_periods=1,
                             threshold=10, comparison="GreaterThanThreshold"))), timeout=T)
    deadline = time.monotonic() + 10
    state = ""
    while time.monotonic() < deadline and state != "ALARM":
        cw.PutMetricData(cloudwatch_pb2.PutMetricDataRequest(
            token=admin_token, namespace="Test",
            data=[cloudwatch_pb2.MetricDatum(metric_name="Heat", value=50)]), timeout=T)
        alarms = cw.DescribeAlarms(cloudwatch_pb2.DescribeAlarmsRequest(
            token=admin_token, name_prefix="hot"), timeout=T).alarms
        state = alarms[0].state if alarms else ""
        time.sleep(0.3)
    assert state == "ALARM"


@pytest.mark.parametrize(("svc", "method", "request_", "field"), [
    ("dynamodb", "CreateTable", dynamodb_pb2.CreateTableRequest(), "table"),
    ("dynamodb", "CreateTable", dynamodb_pb2.CreateTableRequest(table="bad name!"), "table"),
    ("dynamodb", "PutItem", dynamodb_pb2.PutItemRequest(table="customers"), "item.pk"),
    ("dynamodb", "PutItem", dynamodb_pb2.PutItemRequest(
        table="customers", item=dynamodb_pb2.Item(pk="x", attributes={"bad name": "v"})),
     "item.attributes"),
    ("dynamodb", "PutItem", dynamodb_pb2.PutItemRequest(
        table="customers", item=dynamodb_pb2.Item(pk="x", attributes={"v": "x" * (MiB + 1)})),
     "item.attributes"),
    ("dynamodb", "Query", dynamodb_pb2.QueryRequest(table="customers", pk="x", limit=5000),
     "limit"),
    ("dynamodb", "GetItem", dynamodb_pb2.GetItemRequest(table="customers", pk="a\x00b"), "pk"),
    ("kms", "Sign", kms_pb2.SignRequest(key_id="alias/iam-tokens"), "message"),
    ("kms", "Sign", kms_pb2.SignRequest(key_id="alias/iam-tokens", message=b"x" * (MiB + 1)),
     "message"),
    ("kms", "CreateKey", kms_pb2.CreateKeyRequest(alias="nope"), "alias"),
    ("iam", "CreateUser", iam_pb2.CreateUserRequest(name="u", role="customer"), "secret"),
    ("iam", "CreateRole", iam_pb2.CreateRoleRequest(name="r"), "statements"),
    ("iam", "CreateRole", iam_pb2.CreateRoleRequest(name="r", statements=[iam_pb2.Statement(
        effect="Maybe", actions=["*"], resources=["*"])]), "statements[0].effect"),
    ("iam", "Authenticate", iam_pb2.AuthenticateRequest(user="", secret="x"), "user"),
    ("iam", "Authenticate", iam_pb2.AuthenticateRequest(user="u", secret="x" * (MiB + 1)),
     "secret"),
    ("iam", "Authorize", iam_pb2.AuthorizeRequest(token="x", action="invoke", resource="*"),
     "action"),
    ("s3", "PutObject", s3_pb2.PutObjectRequest(bucket="lambda-code-us-east-1", key="k",
                                                body=b"x" * (MiB + 1)), "body"),
    ("s3", "GetObject", s3_pb2.GetObjectRequest(bucket="lambda-code-us-east-1"), "key"),
    ("lambda", "Invoke", lambda_pb2.InvokeRequest(function=""), "function"),
    ("lambda", "Invoke", lambda_pb2.InvokeRequest(function="f", token="x" * (MiB + 1)),
     "token"),
    ("lambda", "CreateFunction", lambda_pb2.CreateFunctionRequest(name="f", code_bucket="b"),
     "code_key"),
    ("cloudwatch", "PutMetricData", cloudwatch_pb2.PutMetricDataRequest(namespace="N"), "data"),
    ("cloudwatch", "PutMetricData", cloudwatch_pb2.PutMetricDataRequest(
        namespace="N", data=[cloudwatch_pb2.MetricDatum(metric_name="m", value=float("nan"))]),
     "data[0].value"),
    ("cloudwatch", "GetMetricStatistics", cloudwatch_pb2.GetMetricStatisticsRequest(
        namespace="N", metric_name="m", start_time=10, end_time=5, period_seconds=60),
     "end_time"),
    ("cloudwatch", "PutMetricAlarm", cloudwatch_pb2.PutMetricAlarmRequest(
        alarm=cloudwatch_pb2.Alarm(name="a", namespace="n", metric_name="m", statistic="Sum",
                                   comparison="Bigger", period_seconds=60,
                                   evaluation_periods=1)), "alarm.comparison"),
    ("cloudwatch", "DescribeAlarms", cloudwatch_pb2.DescribeAlarmsRequest(state="ON"), "state"),
])
def test_bad_input_is_invalid_argument_naming_the_field(stubs, svc, method, request_, field):
    code, details = code_of(lambda: getattr(stubs[svc], method)(request_, timeout=T))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert details.startswith(field), details


def test_far_oversized_message_is_rejected_by_transport_and_service_lives(lab, stubs):
    code, _ = code_of(lambda: stubs["s3"].PutObject(s3_pb2.PutObjectRequest(
        bucket="b", key="k", body=b"x" * (3 * MiB)), timeout=T))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stubs["s3"].CreateBucket(s3_pb2.CreateBucketRequest(bucket="alive"), timeout=T)


def test_health_probes_and_metric_names(lab):
    for key, proc in lab.procs.items():
        assert proc.http("/healthz")[0] == 200
        assert proc.http("/readyz")[0] == 200
        assert proc.http("/nope")[0] == 404
        stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(proc.address))
        resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=T)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING, key
    names = {"sts": "chaoslab.sts.v1.STS", "signin": "chaoslab.signin.v1.SignIn",
             "lambda.us-east-1": "chaoslab.lambda.v1.Lambda"}
    for key, service in names.items():
        stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(lab.address(key)))
        assert stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=T).status == \
            health_pb2.HealthCheckResponse.SERVING
    text = lab.procs["lambda.us-east-1"].http("/metrics")[1]
    for name in METRIC_NAMES:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'service="lambda"' in text and 'region="us-east-1"' in text
    assert "_created" not in text


def test_overload_sheds_and_expired_queued_work_still_runs(lab, tmp_path):
    cfg = tmp_path / "slow-ddb.yaml"
    cfg.write_text(yaml.safe_dump({"capacity": {
        "max_concurrency": 1, "queue_limit": 3, "service_time": {"PutItem": "150ms"}}}))
    slow = lab.start_extra("dynamodb.us-east-1", "ddb-slow", config=cfg)
    try:
        ddb = dynamodb_pb2_grpc.DynamoDBStub(grpc.insecure_channel(slow.address))
        ddb.CreateTable(dynamodb_pb2.CreateTableRequest(table="q"), timeout=T)

        def put(i, timeout):
            return code_of(lambda: ddb.PutItem(dynamodb_pb2.PutItemRequest(
                table="q", item=dynamodb_pb2.Item(pk=f"k{i}")), timeout=timeout))[0]

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: put(i, 0.1), range(8)))
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
        assert grpc.StatusCode.DEADLINE_EXCEEDED in codes
        time.sleep(0.8)  # let the queue drain
        found = sum(ddb.GetItem(dynamodb_pb2.GetItemRequest(table="q", pk=f"k{i}"),
                                timeout=T).found for i in range(8))
        # 1 in service + 3 queued were admitted; their clients gave up after 100 ms,
        # yet the work was done -- as on a real server
        assert found == 4
        assert slow.metric("chaoslab_service_shed_total") == 4
        assert slow.metric("chaoslab_service_requests_total", method="PutItem",
                           code="DEADLINE_EXCEEDED") >= 3
    finally:
        slow.stop()


def test_serve_fails_fast_on_missing_or_bad_settings(lab, tmp_path):
    base = [sys.executable, "-m", "chaoslab_services", "serve", "--service", "iam",
            "--region", "us-east-1", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]
    run = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    assert "--dns" in run.stderr and "--endpoints" in run.stderr
    bad = tmp_path / "e.yaml"
    bad.write_text(yaml.safe_dump({"iam": {"host": "iam.aws.internal", "port": 1}}))
    run = subprocess.run([*base, "--dns", lab.dns.address, "--endpoints", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "dynamodb.us-east-1" in run.stderr
    run = subprocess.run([*base, "--dns", lab.dns.address, "--endpoints", str(lab.endpoints),
                          "--profile", "yolo"], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "yolo" in run.stderr
    helptext = subprocess.run([sys.executable, "-m", "chaoslab_services", "serve", "--help"],
                              capture_output=True, text=True, timeout=30).stdout
    for flag in ("--service", "--region", "--listen", "--http", "--dns", "--endpoints",
                 "--profile", "--policy", "--allowed-networks", "--config", "--log-level"):
        assert flag in helptext


def test_sigterm_stops_cleanly_with_json_logs(lab):
    proc = lab.start_extra("kms.us-east-1", "kms-stop")
    proc.proc.terminate()
    assert proc.proc.wait(10) == 0
    lines = [line for line in proc.log_path.read_text().splitlines() if line.startswith("{")]
    import json

    docs = [json.loads(line) for line in lines]
    assert {d["msg"] for d in docs} >= {"serving", "stopped"}
    assert all(d["service"] == "kms" for d in docs)


def test_manual_client_command(lab):
    out = subprocess.run(
        [sys.executable, "-m", "chaoslab_services.dynamodb.client", "--endpoints",
         str(lab.endpoints), "--dns", lab.dns.address, "GetItem",
         '{"table": "customers", "pk": "customer-1"}'],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert '"tier": "silver"' in out.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{lab.procs['iam'].http_port}/metrics") as r:
        assert r.status == 200
