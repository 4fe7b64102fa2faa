"""Run the operator: check the CRD is served, then kopf standalone over all namespaces."""

from __future__ import annotations

import logging
import time

import kopf

from chaoslab_operator.config import OperatorConfig
from chaoslab_operator.handlers import State, registry
from chaoslab_operator.resources import CRD_NAME

log = logging.getLogger(__name__)


class CrdMissing(RuntimeError):
    pass


def wait_for_crd(state: State, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if state.kube.crd_served():
                return
            problem = f"CRD {CRD_NAME} is not installed"
        except Exception as exc:  # API server not up yet, or a transient error
            problem = f"API server not answering: {exc}"
        if time.monotonic() > deadline:
            raise CrdMissing(
                f"{problem} (waited {timeout:.0f}s); "
                "apply charts/chaoslab/crds/outagescenarios.yaml"
            )
        log.info("%s; waiting", problem)
        time.sleep(1.0)


class _QuietEventHandlers(logging.Filter):
    """kopf logs every run of the trigger-only event handler; that is noise, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Handler 'on_event' succeeded")


def run(config: OperatorConfig, crd_timeout: float = 60.0) -> None:
    """Blocks until SIGINT/SIGTERM; kopf installs the signal handlers."""
    logging.getLogger("kopf.objects").addFilter(_QuietEventHandlers())
    state = State(config)
    wait_for_crd(state, crd_timeout)
    log.info(
        "operator starting: ConfigMap %s key %s, Prometheus %s, resync %gs",
        config.configmap_ref, config.corefile_key, config.prometheus_url or "(none)",
        config.resync_seconds,
    )
    kopf.run(
        registry=registry,
        standalone=True,
        clusterwide=True,
        memo=kopf.Memo(state=state),
    )
