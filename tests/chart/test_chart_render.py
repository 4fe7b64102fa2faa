"""The chart as Helm sees it: lint, render, and what the rendered objects promise.

Cross-checks against the other components' own code, so a drift fails here rather than on
a user's kind cluster: the Service names and endpoints.yaml against the services' catalog,
the Prometheus scrape config against the real Prometheus binary, and the values against
charts/README.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartlib import (
    CHART,
    CHARTS,
    KUBE_VERSION,
    MINIMAL,
    NAMESPACE,
    corefile,
    find,
    helm,
    one,
    pod_spec,
    render,
)

from chaoslab.procs import free_port
from chaoslab.toolpaths import tool

WORKLOAD_KINDS = ("Deployment", "Job")
NAMESPACED_KINDS = {"ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment", "Job",
                    "Role", "RoleBinding", "PodDisruptionBudget"}


@pytest.mark.parametrize("values", [None, MINIMAL], ids=["default", "minimal"])
def test_helm_lint(values: Path | None) -> None:
    args = ["lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION,
            "--namespace", NAMESPACE]
    if values:
        args += ["--values", str(values)]
    out = helm(*args)
    assert "0 chart(s) failed" in out.stdout
    assert "Fail" not in out.stdout + out.stderr, out.stdout + out.stderr


@pytest.mark.parametrize("values", [(), (MINIMAL,)], ids=["default", "minimal"])
def test_renders_well_formed_objects(values: tuple[Path, ...]) -> None:
    objs = render(values, include_crds=True)
    seen = set()
    for obj in objs:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        assert key not in seen, f"rendered twice: {key}"
        seen.add(key)
        if obj["kind"] in NAMESPACED_KINDS:
            # Explicit namespaces: `helm template | kubectl apply` lands where helm would.
            assert meta.get("namespace"), f"{key} has no namespace"
        labels = meta.get("labels") or {}
        assert labels.get("app.kubernetes.io/name") == "chaoslab", f"{key} lacks the chart labels"
    assert find(objs, "CustomResourceDefinition", "outagescenarios.chaoslab.io")


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("values", [(), (MINIMAL,)], ids=["default", "minimal"])
def test_every_workload_is_locked_down(values: tuple[Path, ...]) -> None:
    workloads = [o for o in render(values) if o["kind"] in WORKLOAD_KINDS]
    assert workloads
    for obj in workloads:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = pod_spec(obj)
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in _containers(obj):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert not sc["capabilities"].get("add"), name
            assert sc.get("privileged") in (None, False), name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), f"{name} {kind}"
            image = c["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
        # Only the operator (and its uninstall hook, the kill switch) talks to the API server.
        if obj["metadata"]["name"] in ("chaoslab-operator", "chaoslab-revert-faults"):
            assert spec["serviceAccountName"] == "chaoslab-operator"
        else:
            assert spec["automountServiceAccountToken"] is False, name
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, name


def test_services_match_the_catalog_and_the_contract() -> None:
    from chaoslab_services import catalog

    objs = render()
    processes = {f"{e.service}-{e.region}": e for e in catalog.PROCESSES}
    deployments = {d["metadata"]["name"]: d for d in find(objs, "Deployment")
                   if d["metadata"]["labels"]["app.kubernetes.io/component"] == "service"}
    assert set(deployments) == set(processes)
    assert {"ec2-us-east-1", "ec2-us-west-2"} <= set(deployments)
    # The global tiers are processes of their own, so each name can fail on its own.
    assert {"iam-us-east-1", "sts-us-east-1", "signin-us-east-1"} <= set(deployments)
    assert not {"iam-us-west-2", "sts-us-west-2", "signin-us-west-2"} & set(deployments)
    # Prometheus finds every service pod, EC2's too, through this headless Service.
    metrics = one(objs, "Service", "chaoslab-services-metrics")["spec"]["selector"]
    for name, entry in processes.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert metrics.items() <= labels.items(), name
        svc = one(objs, "Service", name)
        assert svc["spec"]["type"] == "ClusterIP"
        assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"grpc": 50051,
                                                                       "http": 8080}
        spec = pod_spec(deployments[name])
        assert spec["serviceAccountName"] == "chaoslab-services"
        (c,) = spec["containers"]
        args = c["args"]
        assert args[:4] == ["python", "-m", "chaoslab_services", "serve"]
        flags = dict(zip(args[4::2], args[5::2], strict=False))
        assert flags["--service"] == entry.service and flags["--region"] == entry.region
        assert flags["--listen"] == "0.0.0.0:50051" and flags["--http"] == "0.0.0.0:8080"
        assert flags["--dns"] == "10.96.0.10:53"  # kind's kube-dns when not looked up
        assert flags["--endpoints"] == "/etc/chaoslab/endpoints.yaml"
        assert flags["--allowed-networks"] == "10.96.0.0/16,10.244.0.0/16"
        # Native gRPC probes on the gRPC port (the standard health service).
        assert c["readinessProbe"]["grpc"]["port"] == 50051
        assert c["livenessProbe"]["grpc"]["port"] == 50051
        assert svc["spec"]["selector"].items() <= deployments[name]["spec"]["template"][
            "metadata"]["labels"].items()

    config = one(objs, "ConfigMap", "chaoslab-services-config")
    endpoints = yaml.safe_load(config["data"]["endpoints.yaml"])
    assert endpoints == catalog.endpoints_doc(default_port=50051)

    sa = one(objs, "ServiceAccount", "chaoslab-services")
    assert sa["automountServiceAccountToken"] is False
    # No Role or ClusterRole binding names the services' account.
    for binding in find(objs, "RoleBinding") + find(objs, "ClusterRoleBinding"):
        assert all(s["name"] != "chaoslab-services" for s in binding["subjects"])


def test_services_options() -> None:
    objs = render(sets=["services.profile=resilient", "services.replicas=2",
                        "dns.server=10.96.0.99:53"])
    dep = one(objs, "Deployment", "iam-us-east-1")
    args = pod_spec(dep)["containers"][0]["args"]
    assert args[args.index("--profile") + 1] == "resilient"
    assert args[args.index("--dns") + 1] == "10.96.0.99:53"
    assert dep["spec"]["replicas"] == 2
    # With more than one replica each service gets a PodDisruptionBudget.
    pdbs = find(objs, "PodDisruptionBudget")
    services = {d["metadata"]["name"] for d in find(objs, "Deployment")
                if d["metadata"]["labels"]["app.kubernetes.io/component"] == "service"}
    assert {p["metadata"]["name"] for p in pdbs} == services
    assert all(p["spec"]["maxUnavailable"] == 1 for p in pdbs)
    assert not find(render(), "PodDisruptionBudget"), "no PDB for a single replica"

    policy = render(sets=["services.policy.defaults.timeout=1s"])
    args = pod_spec(one(policy, "Deployment", "s3-us-west-2"))["containers"][0]["args"]
    assert "--policy" in args and "--profile" not in args
    cm = one(policy, "ConfigMap", "chaoslab-services-config")
    assert yaml.safe_load(cm["data"]["policy.yaml"]) == {"defaults": {"timeout": "1s"}}


def test_minimal_values_make_a_small_lab() -> None:
    objs = render((MINIMAL,))
    names = {d["metadata"]["name"] for d in find(objs, "Deployment")}
    assert not any(n.endswith("us-west-2") for n in names)
    assert {"iam-us-east-1", "dynamodb-us-east-1", "chaoslab-operator", "prometheus",
            "locust-master", "locust-worker"} <= names
    assert not find(objs, "Deployment", "grafana")
    assert one(objs, "Deployment", "locust-worker")["spec"]["replicas"] == 1
    # us-west-2 stays in endpoints.yaml: a missing region looks like a name that does not
    # resolve, not like a configuration error.
    endpoints = yaml.safe_load(
        one(objs, "ConfigMap", "chaoslab-services-config")["data"]["endpoints.yaml"])
    assert "dynamodb.us-west-2" in endpoints
    job = find(objs, "Job")[0]
    args = pod_spec(job)["containers"][0]["args"]
    assert args[args.index("--regions") + 1] == "us-east-1"


def test_operator_runs_the_contract_command() -> None:
    objs = render()
    dep = one(objs, "Deployment", "chaoslab-operator")
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    (c,) = pod_spec(dep)["containers"]
    assert c["args"] == ["chaoslab", "operator", "run", "--coredns-configmap",
                         "kube-system/coredns", "--prometheus", "http://prometheus:9090",
                         "--http", "0.0.0.0:8080",
                         "--ledger", f"{NAMESPACE}/chaoslab-ledger",  # the RBAC's Role
                         "--allowed-networks", "10.96.0.0/16,10.244.0.0/16"]
    assert one(objs, "Service", "prometheus")["spec"]["ports"][0]["port"] == 9090
    assert not find(render(sets=["operator.enabled=false"]), "Deployment", "chaoslab-operator")


def test_bootstrap_job() -> None:
    jobs = {j["metadata"]["name"]: j for j in find(render(), "Job")}
    assert sorted(jobs) == ["chaoslab-bootstrap-r1", "chaoslab-revert-faults"]
    job = jobs["chaoslab-bootstrap-r1"]
    spec = pod_spec(job)
    (c,) = spec["containers"]
    args = c["args"]
    assert args[:4] == ["python", "-m", "chaoslab_services", "bootstrap"]
    assert args[args.index("--endpoints") + 1] == "/etc/chaoslab/endpoints.yaml"
    assert args[args.index("--regions") + 1] == "us-east-1,us-west-2"
    assert spec["restartPolicy"] == "OnFailure"
    left = find(render(sets=["bootstrap.enabled=false"]), "Job")
    assert [j["metadata"]["name"] for j in left] == ["chaoslab-revert-faults"]


def test_locust_master_and_workers() -> None:
    objs = render()
    master = pod_spec(one(objs, "Deployment", "locust-master"))["containers"][0]["args"]
    worker = pod_spec(one(objs, "Deployment", "locust-worker"))["containers"][0]["args"]
    for args in (master, worker):
        assert args[:2] == ["locust", "-f"]
        assert args[2].endswith("/site-packages/chaoslab_loadtest/locustfile.py")
    assert "--master" in master and "--metrics-host=0.0.0.0" in master
    assert "--worker" in worker and "--master-host=locust-master" in worker
    assert one(objs, "Deployment", "locust-worker")["spec"]["replicas"] == 2
    # Customers reach the front doors by cluster Service name, never via *.aws.internal.
    cfg = yaml.safe_load(one(objs, "ConfigMap", "chaoslab-locust-config")["data"]["chaoslab.yaml"])
    assert cfg["targets"]["iam"] == f"iam-us-east-1.{NAMESPACE}.svc.cluster.local:50051"
    assert cfg["targets"]["signin"] == f"signin-us-east-1.{NAMESPACE}.svc.cluster.local:50051"
    assert cfg["targets"]["sts"] == f"sts-us-east-1.{NAMESPACE}.svc.cluster.local:50051"
    assert cfg["targets"]["lambda.us-west-2"].startswith("lambda-us-west-2.")
    assert cfg["regions"] == ["us-east-1", "us-west-2"]
    from chaoslab_loadtest import config as load_config

    parsed = load_config.from_mapping({**yaml.safe_load(
        load_config.DEFAULT_CONFIG.read_text()), **cfg})
    assert parsed.target("iam").endswith(":50051")
    extra = render(sets=["locust.config.users=50"])
    cfg = yaml.safe_load(one(extra, "ConfigMap", "chaoslab-locust-config")["data"]["chaoslab.yaml"])
    assert cfg["users"] == 50 and "iam" in cfg["targets"]


def test_grafana_provisions_every_dashboard(tmp_path: Path) -> None:
    chart = tmp_path / "chaoslab"
    shutil.copytree(CHART, chart)
    dashboards = chart / "dashboards"
    dashboards.mkdir(exist_ok=True)
    shipped = sorted(p.name for p in dashboards.glob("*.json"))
    sample = {"title": "Sample", "uid": "sample", "panels": [], "schemaVersion": 39}
    (dashboards / "zz-sample.json").write_text(json.dumps(sample, indent=2) + "\n")
    objs = render(chart=chart)
    cm = one(objs, "ConfigMap", "grafana-dashboards")
    assert sorted(cm["data"]) == sorted([*shipped, "zz-sample.json"])
    for name, text in cm["data"].items():
        assert json.loads(text) == json.loads((dashboards / name).read_text())
    prov = one(objs, "ConfigMap", "grafana-provisioning")
    (ds,) = yaml.safe_load(prov["data"]["datasources.yaml"])["datasources"]
    assert ds["type"] == "prometheus" and ds["uid"] == "prometheus" and ds["isDefault"]
    assert ds["url"] == f"http://prometheus.{NAMESPACE}.svc:9090"
    (provider,) = yaml.safe_load(prov["data"]["dashboards.yaml"])["providers"]
    dep = one(objs, "Deployment", "grafana")
    mounts = {m["mountPath"]: m["name"] for m in pod_spec(dep)["containers"][0]["volumeMounts"]}
    assert mounts[provider["options"]["path"]] == "dashboards"
    # No subPath mounts: they never see a ConfigMap update.
    assert all("subPath" not in m for m in pod_spec(dep)["containers"][0]["volumeMounts"])


def test_the_chart_ships_the_dashboards_that_landed() -> None:
    shipped = sorted(p.name for p in (CHART / "dashboards").glob("*.json"))
    cm = one(render(), "ConfigMap", "grafana-dashboards")
    assert sorted(cm.get("data") or {}) == shipped
    total = 0
    for name in shipped:
        text = (CHART / "dashboards" / name).read_text()
        total += len(text.encode())
        # Every panel and annotation queries the datasource the chart provisions.
        doc = json.loads(text)
        uids = set(re.findall(r'"datasource":\s*\{[^}]*"uid":\s*"([^"]+)"',
                              json.dumps([doc.get("panels"), doc.get("annotations")])))
        foreign = {u for u in uids if u != "prometheus" and not u.startswith(("$", "-- "))}
        assert not foreign, f"{name} names datasources the chart does not provision: {foreign}"
    # One ConfigMap holds them all: far below its 1 MiB, and below the 256 KiB annotation
    # `kubectl apply` (client-side) would need for `helm template | kubectl apply`.
    assert total < 200_000, f"dashboards total {total} bytes: split the ConfigMap"


def test_prometheus_scrapes_every_component_and_loads_the_config(tmp_path: Path) -> None:
    objs = render()
    text = one(objs, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    config = yaml.safe_load(text)
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "chaoslab-services", "chaoslab-operator",
                         "chaoslab-loadtest", "coredns"}
    # Discovery is DNS-only: Prometheus needs (and has) no Kubernetes API rights.
    assert not any("kubernetes_sd_configs" in j for j in jobs.values())
    dep = one(objs, "Deployment", "prometheus")
    assert pod_spec(dep)["automountServiceAccountToken"] is False
    headless = {s["metadata"]["name"]: s for s in find(objs, "Service")
                if s["spec"].get("clusterIP") == "None"}
    for job in ("chaoslab-services", "chaoslab-operator", "chaoslab-loadtest", "coredns"):
        (sd,) = jobs[job]["dns_sd_configs"]
        (name,) = sd["names"]
        svc_name, svc_ns = name.split(".")[:2]
        svc = headless[svc_name]
        assert svc["metadata"]["namespace"] == svc_ns
        assert svc["spec"]["publishNotReadyAddresses"] is True
        assert sd["port"] == svc["spec"]["ports"][0]["port"]
    assert jobs["coredns"]["dns_sd_configs"][0]["port"] == 9153
    coredns = headless["chaoslab-coredns-metrics"]
    assert coredns["metadata"]["namespace"] == "kube-system"
    assert coredns["spec"]["selector"] == {"k8s-app": "kube-dns"}

    # The real Prometheus loads the config. Its DNS discovery would query this machine's
    # resolver for cluster names, so each dns_sd block (checked above and here for its
    # keys) becomes a static target on loopback; everything else is the rendered file.
    for job in config["scrape_configs"]:
        for sd in job.pop("dns_sd_configs", []):
            assert set(sd) == {"names", "type", "port", "refresh_interval"}, sd
            assert sd["type"] == "A"
            job["static_configs"] = [{"targets": [f"127.0.0.1:{sd['port']}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [str(tool("prometheus")), f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("w"))
    try:
        deadline = time.monotonic() + 30
        targets: set[str] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/targets", timeout=2) as resp:
                    active = json.load(resp)["data"]["activeTargets"]
                targets = {t["labels"]["job"] for t in active}
                if targets == set(jobs):
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert proc.poll() is None, (tmp_path / "log").read_text()
        assert targets == set(jobs), (tmp_path / "log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_nodeports_match_kind_port_mappings() -> None:
    objs = render()
    node_ports = {s["metadata"]["name"]: s["spec"]["ports"][0]["nodePort"]
                  for s in find(objs, "Service") if s["spec"].get("type") == "NodePort"}
    assert node_ports == {"grafana": 30300, "prometheus": 30090, "locust-master": 30089}
    kind = yaml.safe_load((CHARTS.parent / "kind-config.yaml").read_text())
    (cp,) = [n for n in kind["nodes"] if n["role"] == "control-plane"]
    mappings = {m["containerPort"]: m["hostPort"] for m in cp["extraPortMappings"]}
    assert mappings == {30300: 3000, 30090: 9090, 30089: 8089}
    assert all(m["listenAddress"] == "127.0.0.1" for m in cp["extraPortMappings"])
    (patch,) = [yaml.safe_load(p) for p in kind["kubeadmConfigPatches"]]
    assert patch["kind"] == "KubeletConfiguration"
    assert patch["configMapAndSecretChangeDetectionStrategy"] == "Watch"
    assert patch["syncFrequency"] == "10s"


def _leaf_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Documented value paths: leaves, except inside free-form blocks (resources, probes,
    security contexts, catalogs), which are documented as a whole."""
    free_form = ("resources", "Resources", "Probe", "securityContext", "SecurityContext",
                 "catalog", "regions", "policy", "config", "podSelector", "extraArgs",
                 "ExtraArgs", "allowedNetworks")
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and not key.endswith(free_form):
            out += _leaf_paths(value, path + ".")
        else:
            out.append(path)
    return out


def test_every_value_is_documented() -> None:
    values_text = (CHART / "values.yaml").read_text()
    readme = (CHARTS / "README.md").read_text()
    values = yaml.safe_load(values_text)
    missing = [p for p in _leaf_paths(values) if f"`{p}`" not in readme]
    assert not missing, f"values missing from the charts/README.md table: {missing}"
    # Every top-level section of values.yaml starts with a comment.
    lines = values_text.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith((" ", "#")):
            assert lines[i - 1].startswith("#"), f"values.yaml: {line!r} has no comment"


def _corefile_rewrites() -> list[tuple[re.Pattern[str], str]]:
    """The `name regex PATTERN REPLACEMENT` rules of the lab Corefile's aws.internal block."""
    text = corefile("Corefile.kind-lab").read_text()
    rules = re.findall(r"^\s*name regex (\S+) (\S+)\s*$", text, flags=re.M)
    assert rules, "no `rewrite ... name regex` rule in Corefile.kind-lab"
    return [(re.compile(pattern), replacement) for pattern, replacement in rules]


@pytest.mark.parametrize("values", [(), (MINIMAL,)], ids=["default", "minimal"])
def test_every_endpoint_name_resolves_to_a_rendered_service(values: tuple[Path, ...]) -> None:
    """The lab Corefile turns <service>.<region>.aws.internal into a cluster Service name;
    every endpoint of a deployed region must land on a Service the chart renders."""
    objs = render(values)
    services = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in find(objs, "Service")}
    endpoints = yaml.safe_load(
        one(objs, "ConfigMap", "chaoslab-services-config")["data"]["endpoints.yaml"])
    deployed = {d["metadata"]["labels"]["chaoslab.io/region"] for d in find(objs, "Deployment")
                if "chaoslab.io/region" in d["metadata"]["labels"]}
    rules = _corefile_rewrites()
    checked = 0
    for key, endpoint in endpoints.items():
        region = key.split(".", 1)[1] if "." in key else "us-east-1"
        if region not in deployed:
            continue
        qname = endpoint["host"] + "."
        for pattern, replacement in rules:
            match = pattern.match(qname)
            if match:
                target = re.sub(r"\{(\d+)\}", lambda m, g=match: g.group(int(m.group(1))),
                                replacement)
                break
        else:
            pytest.fail(f"no rewrite in Corefile.kind-lab matches {qname}")
        name, namespace, svc, *_ = target.split(".")
        assert svc == "svc" and target.endswith(".svc.cluster.local."), target
        assert (namespace, name) in services, f"{qname} -> {target}: no such Service rendered"
        checked += 1
    assert checked >= (7 if values else 12)


def test_the_operator_refuses_redirects_off_the_services_networks() -> None:
    """The operator's admission knows the networks the services may dial: the same list."""
    for sets, want in (((), "10.96.0.0/16,10.244.0.0/16"),
                       (("services.allowedNetworks={10.0.0.0/8}",), "10.0.0.0/8")):
        objs = render(sets=sets)
        args = pod_spec(one(objs, "Deployment", "chaoslab-operator"))["containers"][0]["args"]
        assert args[args.index("--allowed-networks") + 1] == want
        service = pod_spec(one(objs, "Deployment", "dynamodb-us-east-1"))["containers"][0]
        assert service["args"][service["args"].index("--allowed-networks") + 1] == want


def test_scenarios_lab_settings_are_checked_against_this_labs() -> None:
    """The policy is the local lab's own file; its params say where this chart's customers
    live (the enabled regions unless locust.config says otherwise) and the stock tuning."""
    from chaoslab.local.labsettings import POLICY_FILE

    policy = yaml.safe_load(POLICY_FILE.read_text())
    for values, sets, regions in (((), (), "us-east-1,us-west-2"), ((MINIMAL,), (), "us-east-1"),
                                  ((), ("locust.config.regions={us-west-2}",), "us-west-2")):
        objs = render(values, sets)
        rendered = one(objs, "ValidatingAdmissionPolicy", "chaoslab-lab-settings")
        assert rendered["spec"] == policy["spec"]
        params = one(objs, "ConfigMap", "chaoslab-lab-settings")
        assert params["metadata"]["namespace"] == "kube-system"
        assert params["data"] == {"customerRegions": regions, "tuning": "stock"}
        ref = one(objs, "ValidatingAdmissionPolicyBinding", "chaoslab-lab-settings")["spec"]
        assert ref["paramRef"]["name"] == "chaoslab-lab-settings"
        assert ref["validationActions"] == ["Deny"]
