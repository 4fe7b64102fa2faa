"""Small Kubernetes API calls of the operator and the kill switch, each with a timeout.

Every function does one request (or one retried read-modify-write) and returns plain data;
"already gone" is a success where that is what the caller wants (a revert of a deleted
object, an Event on a vanished scenario).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from chaoslab_dns.clients import Pod
from chaoslab_operator.resources import COMPONENT, GROUP, KIND, PLURAL, VERSION

log = logging.getLogger(__name__)


class ConfigMapMissing(RuntimeError):
    """The CoreDNS ConfigMap, or its Corefile key, does not exist."""


class Conflict(RuntimeError):
    """An optimistic-concurrency write lost a race (HTTP 409); re-read and try again."""


def load_client_configuration(
    kubeconfig: Path | None = None, context: str | None = None
) -> client.Configuration:
    """The API server, CA and credentials: the given kubeconfig, else in-cluster, else default."""
    cfg = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=cfg
        )
        return cfg
    try:
        config.load_incluster_config(client_configuration=cfg)
    except config.ConfigException:
        config.load_kube_config(context=context, client_configuration=cfg)
    return cfg


@dataclass
class Kube:
    """The API calls the operator makes, bound to one client and one timeout."""

    api: client.ApiClient
    timeout: float = 10.0

    @classmethod
    def connect(
        cls, kubeconfig: Path | None = None, context: str | None = None, timeout: float = 10.0
    ) -> Kube:
        return cls(client.ApiClient(load_client_configuration(kubeconfig, context)), timeout)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def _t(self) -> tuple[float, float]:
        return (float(self.timeout), float(self.timeout))

    # -- discovery -------------------------------------------------------------------
    def crd_served(self) -> bool:
        """Is outagescenarios.chaoslab.io served (discovery, allowed to every identity)?"""
        try:
            found = self.custom.get_api_resources(GROUP, VERSION, _request_timeout=self._t())
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return any(r.name == PLURAL for r in found.resources or ())

    # -- scenarios -----------------------------------------------------------------
    def list_scenarios(self) -> list[dict[str, Any]]:
        result = self.custom.list_cluster_custom_object(
            GROUP, VERSION, PLURAL, _request_timeout=self._t()
        )
        return list(result.get("items", []))  # type: ignore[union-attr]

    def get_scenario(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=self._t()
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(obj)  # type: ignore[arg-type]

    def patch_status(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: str | None = None,
    ) -> bool:
        """Merge-patch the status; with `resource_version`, only if nobody wrote since.

        Returns False if the scenario is gone; raises Conflict on a lost race.
        """
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, body,
                field_manager=COMPONENT,
                _content_type="application/merge-patch+json",
                _request_timeout=self._t(),
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            if exc.status == 409:
                raise Conflict(f"{namespace}/{name} changed meanwhile") from exc
            raise
        return True

    def create_scenario(self, manifest: dict[str, Any]) -> bool:
        """Create an OutageScenario (a schedule's run); False when it exists already."""
        meta = manifest["metadata"]
        try:
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, meta["namespace"], PLURAL, manifest,
                field_manager=COMPONENT, _request_timeout=self._t(),
            )
        except client.ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def delete_scenario(self, namespace: str, name: str) -> bool:
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=self._t()
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- the CoreDNS ConfigMap -------------------------------------------------------
    def read_corefile(self, namespace: str, name: str, key: str) -> tuple[str, str]:
        """(Corefile text, resourceVersion); ConfigMapMissing if the map or the key is absent."""
        try:
            cm = self.core.read_namespaced_config_map(name, namespace, _request_timeout=self._t())
        except client.ApiException as exc:
            if exc.status == 404:
                raise ConfigMapMissing(f"ConfigMap {namespace}/{name} not found") from exc
            raise
        data = cm.data or {}
        if key not in data:
            raise ConfigMapMissing(f"ConfigMap {namespace}/{name} has no key {key!r}")
        return data[key], cm.metadata.resource_version or ""

    def write_corefile(
        self, namespace: str, name: str, key: str, text: str, resource_version: str
    ) -> str:
        """Patch only `data[key]`, only if the map is still at `resource_version`.

        Returns the new resourceVersion; raises Conflict if someone wrote in between.
        """
        body = {"metadata": {"resourceVersion": resource_version}, "data": {key: text}}
        try:
            cm = self.core.patch_namespaced_config_map(
                name, namespace, body, field_manager=COMPONENT, _request_timeout=self._t()
            )
        except client.ApiException as exc:
            if exc.status == 409:
                raise Conflict(f"ConfigMap {namespace}/{name} changed meanwhile") from exc
            if exc.status == 404:
                raise ConfigMapMissing(f"ConfigMap {namespace}/{name} not found") from exc
            raise
        return cm.metadata.resource_version or ""

    def watch_configmap(
        self,
        namespace: str,
        name: str,
        on_event: Callable[[str, Any], None],
        stop: Callable[[], bool],
        timeout_seconds: int = 60,
        started: Callable[[watch.Watch], None] | None = None,
    ) -> None:
        """One watch of the one ConfigMap (a name field selector, so RBAC resourceNames hold).

        `started` receives the Watch, so another thread can `interrupt_watch` it.
        """
        w = watch.Watch()
        if started is not None:
            started(w)
        try:
            for event in w.stream(
                self.core.list_namespaced_config_map,
                namespace,
                field_selector=f"metadata.name={name}",
                timeout_seconds=timeout_seconds,
                _request_timeout=(float(self.timeout), float(timeout_seconds + 5)),
            ):
                if stop():
                    return
                on_event(event["type"], event["object"])
        finally:
            w.stop()

    # -- pods: the addresses of client-scoped faults (list and watch only) -------------
    def list_pods(self, namespaces: tuple[str, ...] = ()) -> list[Pod]:
        """Every pod with an IP, cluster-wide (or in ``namespaces``), as plain values."""
        if namespaces:
            items = [p for ns in namespaces for p in self.core.list_namespaced_pod(
                ns, _request_timeout=self._t()).items]
        else:
            items = self.core.list_pod_for_all_namespaces(_request_timeout=self._t()).items
        return [pod for pod in map(pod_value, items) if pod.ips]

    def watch_pods(
        self,
        on_event: Callable[[str, Pod], None],
        stop: Callable[[], bool],
        namespace: str | None = None,
        timeout_seconds: int = 60,
        started: Callable[[watch.Watch], None] | None = None,
    ) -> None:
        """One watch of the pods (cluster-wide, or one namespace): what pod resolution needs
        to know that its answer may have changed. `started` receives the Watch."""
        w = watch.Watch()
        if started is not None:
            started(w)
        if namespace:
            fn: Callable[..., Any] = self.core.list_namespaced_pod
            args: tuple[str, ...] = (namespace,)
        else:
            fn, args = self.core.list_pod_for_all_namespaces, ()
        try:
            for event in w.stream(fn, *args, timeout_seconds=timeout_seconds,
                                  _request_timeout=(float(self.timeout),
                                                    float(timeout_seconds + 5))):
                if stop():
                    return
                on_event(event["type"], pod_value(event["object"]))
        finally:
            w.stop()

    # -- the session ledger (a ConfigMap of its own) ----------------------------------
    def read_configmap_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A ConfigMap's data; None when it does not exist."""
        try:
            cm = self.core.read_namespaced_config_map(name, namespace, _request_timeout=self._t())
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})

    def patch_configmap_data(
        self, namespace: str, name: str, changes: Mapping[str, str | None]
    ) -> None:
        """Merge-patch some data keys (None removes one); KeyError when the map is missing."""
        try:
            self.core.patch_namespaced_config_map(
                name, namespace, {"data": dict(changes)}, field_manager=COMPONENT,
                _request_timeout=self._t(),
            )
        except client.ApiException as exc:
            if exc.status == 404:
                raise KeyError(f"ConfigMap {namespace}/{name} not found") from exc
            raise

    def create_configmap(
        self, namespace: str, name: str, data: Mapping[str, str], labels: Mapping[str, str]
    ) -> None:
        """Create a ConfigMap; one created meanwhile by someone else gets the data patched in."""
        body = {"metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
                "data": dict(data)}
        try:
            self.core.create_namespaced_config_map(
                namespace, body, field_manager=COMPONENT, _request_timeout=self._t()
            )
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            self.patch_configmap_data(namespace, name, data)

    # -- events ------------------------------------------------------------------------
    def post_event(
        self,
        namespace: str,
        name: str,
        uid: str,
        type_: str,
        reason: str,
        message: str,
    ) -> None:
        """A core/v1 Event about a scenario; failures are logged, never raised."""
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "namespace": namespace,
                "name": name,
                "uid": uid or None,
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": f"{GROUP}/operator",
            "reportingInstance": _instance(),
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self.core.create_namespaced_event(namespace, body, _request_timeout=self._t())
        except Exception as exc:  # an event is best effort
            log.warning("could not post event %s on %s/%s: %s", reason, namespace, name, exc)


# Pods past these phases keep their IP in status for a while but no longer send queries.
_GONE_PHASES = ("Succeeded", "Failed")


def pod_value(obj: Any) -> Pod:
    """A V1Pod -> ``Pod`` (no IPs once it is finished or being deleted: it leaves scopes)."""
    meta, status = obj.metadata, obj.status
    ips: tuple[str, ...] = ()
    if status is not None and status.phase not in _GONE_PHASES and not meta.deletion_timestamp:
        listed = [i.ip for i in status.pod_ips or () if i.ip]
        ips = tuple(dict.fromkeys([*([status.pod_ip] if status.pod_ip else []), *listed]))
    return Pod(meta.namespace or "", meta.name or "", dict(meta.labels or {}), ips)


def interrupt_watch(w: watch.Watch | None) -> None:
    """Unblock a watch stream read from another thread by shutting its response down."""
    resp = getattr(w, "_resp", None)
    shutdown = getattr(resp, "shutdown", None)
    if callable(shutdown):
        try:
            shutdown()
        except Exception as exc:  # best effort: the thread is a daemon anyway
            log.debug("could not interrupt a watch: %s", exc)


def _instance() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname()
