"""Validation of OutageScenario manifests into ``chaoslab_dns.model`` values.

This is the only door from user input to the Corefile, so it is strict: every value the
compiler writes (target, mode, probability, delay, redirect address, namespace/name) must
come out of here as a plain token that cannot open a block, start a directive or a comment,
or split a line. Errors name the offending field the way kubectl does, e.g.
``spec.faults[0].target``, and quote the value.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .cron import CronError, parse_cron
from .durations import DurationError, format_duration, parse_duration
from .model import (
    Clients,
    ConcurrencyPolicy,
    Fault,
    FaultPhase,
    Hypothesis,
    LabelRequirement,
    Mode,
    OnError,
    Scenario,
    Schedule,
    StopCondition,
    Window,
)

__all__ = [
    "API_VERSION",
    "KIND",
    "MAX_CLIENT_ENTRIES",
    "MAX_DELAY",
    "MAX_DURATION",
    "MAX_FAULTS",
    "MAX_HISTORY",
    "MAX_PHASES",
    "ScenarioError",
    "parse_clients",
    "parse_hypotheses",
    "parse_scenario",
    "parse_spec",
    "parse_target",
]

API_VERSION = "chaoslab.io/v1alpha1"
KIND = "OutageScenario"
MAX_FAULTS = 16
MAX_DELAY = 30.0  # seconds; longer is a timeout for every client anyway
MAX_DURATION = 24 * 3600.0  # a game day, not a permanent outage
MAX_HYPOTHESES = 16
MAX_WITHIN = 3600.0  # an `after` grace longer than an hour is no recovery claim
MAX_PHASES = 8  # steps of one game day; each compiles to its own rules
MAX_HISTORY = 20  # finished runs a schedule keeps

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_K8S_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")

_TOP_KEYS = {"apiVersion", "kind", "metadata", "spec", "status"}
_SPEC_KEYS = {"faults", "startAfter", "duration", "stopConditions", "onError", "hypotheses",
              "phases", "schedule"}
_PHASE_KEYS = {"name", "faults", "startAfter", "duration"}
_SCHEDULE_KEYS = {"cron", "concurrencyPolicy", "suspend", "historyLimit"}
_FAULT_KEYS = {"target", "mode", "delay", "redirectTo", "probability", "clients"}
_CLIENTS_KEYS = {"namespaces", "podSelector", "cidrs"}
_SELECTOR_KEYS = {"matchLabels", "matchExpressions"}
_EXPRESSION_KEYS = {"key", "operator", "values"}
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
MAX_CLIENT_ENTRIES = 64  # namespaces, cidrs, matchLabels or matchExpressions, each
# Kubernetes label keys ([DNS-subdomain prefix/]name) and values (may be empty).
_LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?")
_STOP_KEYS = {"query", "above", "for"}
_HYPOTHESIS_KEYS = {"name", "query", "during", "after"}
_WINDOW_KEYS = {Window.DURING: {"min", "max"}, Window.AFTER: {"min", "max", "within"}}


class ScenarioError(ValueError):
    """An invalid manifest; ``field`` is the path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _show(value: Any) -> str:
    """A short, quoted rendering of a user value for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(field, f"must be a mapping, got {_show(value)}")
    return value


def _no_unknown_keys(obj: Mapping[str, Any], allowed: set[str], field: str) -> None:
    for key in obj:
        if key not in allowed:
            where = f"{field}.{key}" if isinstance(key, str) else field
            raise ScenarioError(
                where, f"unknown field {key!r} (known: {', '.join(sorted(allowed))})"
            )


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(field, f"must be a number, got {_show(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ScenarioError(field, f"must be a finite number, got {_show(value)}")
    return number


def _duration(value: Any, field: str) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ScenarioError(field, f"{exc}") from None


def parse_target(value: Any, field: str = "target") -> str:
    """A DNS name or ``*.<suffix>``, lower-cased, without a trailing dot."""
    if not isinstance(value, str):
        raise ScenarioError(field, f"must be a DNS name string, got {_show(value)}")
    if not value.isascii():
        raise ScenarioError(
            field, f"invalid DNS name {_show(value)}: only ASCII letters, digits, '-' and '.'"
        )
    name = value.lower()
    if name.endswith(".") and name != ".":
        name = name[:-1]
    suffix = name[2:] if name.startswith("*.") else name
    if not suffix or len(name) > 253:
        raise ScenarioError(
            field,
            f"invalid DNS name {_show(value)}: want 1..253 characters, e.g. "
            "'dynamodb.us-east-1.aws.internal' or '*.us-east-1.aws.internal'",
        )
    for label in suffix.split("."):
        if not _LABEL.fullmatch(label):
            raise ScenarioError(
                field,
                f"invalid DNS name {_show(value)}: label {_show(label)} is not an "
                "RFC 1123 label (letters, digits, inner '-', at most 63 characters)",
            )
    return name


def _parse_k8s_name(value: Any, field: str, max_len: int) -> str:
    if not isinstance(value, str) or len(value) > max_len or not _K8S_NAME.fullmatch(value):
        raise ScenarioError(
            field,
            f"invalid name {_show(value)}: want lower-case letters, digits, "
            f"'-' (and '.' in names), at most {max_len} characters",
        )
    return value


def _parse_fault(obj: Any, field: str) -> Fault:
    fault = _mapping(obj, field)
    _no_unknown_keys(fault, _FAULT_KEYS, field)
    if fault.get("target") is None:
        raise ScenarioError(f"{field}.target", "is required")
    target = parse_target(fault["target"], f"{field}.target")

    raw_mode = fault.get("mode")
    if raw_mode is None:
        raise ScenarioError(f"{field}.mode", "is required")
    if not isinstance(raw_mode, str) or raw_mode not in Mode._value2member_map_:
        raise ScenarioError(
            f"{field}.mode",
            f"invalid mode {_show(raw_mode)}: want one of {', '.join(m.value for m in Mode)}",
        )
    mode = Mode(raw_mode)

    probability = 1.0
    if fault.get("probability") is not None:
        probability = _number(fault["probability"], f"{field}.probability")
        if not 0 < probability <= 1:
            raise ScenarioError(
                f"{field}.probability", f"must be in (0, 1], got {_show(fault['probability'])}"
            )

    delay = None
    if fault.get("delay") is not None:
        if mode is not Mode.DELAY:
            raise ScenarioError(
                f"{field}.delay", f"is only allowed with mode delay (mode is {mode.value!r})"
            )
        delay = _duration(fault["delay"], f"{field}.delay")
        if not 0 < delay <= MAX_DELAY:
            raise ScenarioError(
                f"{field}.delay",
                f"must be more than 0s and at most 30s, got {_show(fault['delay'])}",
            )
    elif mode is Mode.DELAY:
        raise ScenarioError(f"{field}.delay", "is required with mode delay, e.g. '800ms'")

    redirect_to = None
    if fault.get("redirectTo") is not None:
        if mode is not Mode.REDIRECT:
            raise ScenarioError(
                f"{field}.redirectTo",
                f"is only allowed with mode redirect (mode is {mode.value!r})",
            )
        raw = fault["redirectTo"]
        try:
            address = ipaddress.IPv4Address(raw) if isinstance(raw, str) else None
        except ValueError:
            address = None
        if address is None or str(address) != raw:
            raise ScenarioError(
                f"{field}.redirectTo", f"invalid IPv4 address {_show(raw)}, want e.g. '192.0.2.10'"
            )
        redirect_to = str(address)
    elif mode is Mode.REDIRECT:
        raise ScenarioError(
            f"{field}.redirectTo", "is required with mode redirect, e.g. '192.0.2.10'"
        )

    clients = None
    if fault.get("clients") is not None:
        clients = parse_clients(fault["clients"], f"{field}.clients")
    return Fault(
        target=target, mode=mode, probability=probability, delay=delay,
        redirect_to=redirect_to, clients=clients,
    )


def _entries(value: Any, field: str) -> Sequence[Any]:
    items = _sequence(value, field)
    if not 1 <= len(items) <= MAX_CLIENT_ENTRIES:
        raise ScenarioError(field, f"must hold 1 to {MAX_CLIENT_ENTRIES} entries, got "
                                   f"{len(items)} (leave it out to not restrict by it)")
    return items


def _label_key(value: Any, field: str) -> str:
    prefix, _, name = value.rpartition("/") if isinstance(value, str) else ("", "", "")
    ok = bool(_LABEL_NAME.fullmatch(name)) and (
        not prefix or (len(prefix) <= 253 and bool(_K8S_NAME.fullmatch(prefix))))
    if not ok:
        raise ScenarioError(field, f"invalid label key {_show(value)}: want [prefix/]name, "
                                   "e.g. 'chaoslab.io/service' (name: at most 63 letters, "
                                   "digits, '-', '_', '.')")
    return value


def _label_value(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value):
        raise ScenarioError(field, f"invalid label value {_show(value)}: want at most 63 "
                                   "letters, digits, '-', '_', '.', e.g. 'lambda'")
    return value


def _parse_selector(obj: Any, field: str) -> tuple[tuple[tuple[str, str], ...],
                                                   tuple[LabelRequirement, ...]]:
    sel = _mapping(obj, field)
    _no_unknown_keys(sel, _SELECTOR_KEYS, field)
    labels: dict[str, str] = {}
    if sel.get("matchLabels") is not None:
        where = f"{field}.matchLabels"
        raw = _mapping(sel["matchLabels"], where)
        if len(raw) > MAX_CLIENT_ENTRIES:
            raise ScenarioError(where, f"must hold at most {MAX_CLIENT_ENTRIES} labels")
        for key, value in raw.items():
            labels[_label_key(key, where)] = _label_value(value, f"{where}.{key}")
    requirements: list[LabelRequirement] = []
    if sel.get("matchExpressions") is not None:
        where = f"{field}.matchExpressions"
        for i, item in enumerate(_entries(sel["matchExpressions"], where)):
            at = f"{where}[{i}]"
            expr = _mapping(item, at)
            _no_unknown_keys(expr, _EXPRESSION_KEYS, at)
            key = _label_key(expr.get("key"), f"{at}.key")
            op = expr.get("operator")
            if op not in _OPERATORS:
                raise ScenarioError(f"{at}.operator", f"invalid operator {_show(op)}: want "
                                                      f"one of {', '.join(_OPERATORS)}")
            raw_values = expr.get("values")
            if op in ("In", "NotIn"):
                if raw_values is None:
                    raise ScenarioError(f"{at}.values", f"is required with operator {op}")
                values = tuple(_label_value(v, f"{at}.values[{j}]")
                               for j, v in enumerate(_entries(raw_values, f"{at}.values")))
            elif raw_values:
                raise ScenarioError(f"{at}.values", f"must be empty with operator {op}")
            else:
                values = ()
            requirements.append(LabelRequirement(key, op, tuple(sorted(set(values)))))
    return tuple(sorted(labels.items())), tuple(requirements)


def _parse_cidr(value: Any, field: str) -> str:
    try:
        network = ipaddress.ip_network(value) if isinstance(value, str) else None
    except ValueError as exc:
        hint = " (host bits set: use the network address)" if "host bits" in str(exc) else ""
        raise ScenarioError(field, f"invalid address or CIDR {_show(value)}{hint}, want e.g. "
                                   "'10.244.0.7' or '10.244.1.0/24'") from None
    if network is None:
        raise ScenarioError(field, f"must be an address or CIDR string, got {_show(value)}")
    full = network.prefixlen == network.max_prefixlen
    return str(network.network_address) if full else str(network)


def parse_clients(obj: Any, field: str = "clients") -> Clients:
    """``spec.faults[].clients``: namespaces AND podSelector select pods; plus the cidrs."""
    body = _mapping(obj, field)
    _no_unknown_keys(body, _CLIENTS_KEYS, field)
    if all(body.get(k) is None for k in _CLIENTS_KEYS):
        raise ScenarioError(field, "needs at least one of namespaces, podSelector or cidrs "
                                   "(leave clients out to fault every client)")
    namespaces = None
    if body.get("namespaces") is not None:
        where = f"{field}.namespaces"
        names = [_parse_k8s_name(n, f"{where}[{i}]", 63)
                 for i, n in enumerate(_entries(body["namespaces"], where))]
        for i, n in enumerate(names):
            if "." in n:
                raise ScenarioError(f"{where}[{i}]", f"invalid namespace {_show(n)}: no '.'")
        namespaces = tuple(sorted(set(names)))
    labels, expressions = None, ()
    if body.get("podSelector") is not None:
        labels, expressions = _parse_selector(body["podSelector"], f"{field}.podSelector")
    cidrs: tuple[str, ...] = ()
    if body.get("cidrs") is not None:
        where = f"{field}.cidrs"
        cidrs = tuple(dict.fromkeys(
            _parse_cidr(c, f"{where}[{i}]") for i, c in enumerate(_entries(body["cidrs"], where))))
    return Clients(namespaces=namespaces, match_labels=labels,
                   match_expressions=expressions, cidrs=cidrs)


def _parse_stop_condition(obj: Any, field: str) -> StopCondition:
    cond = _mapping(obj, field)
    _no_unknown_keys(cond, _STOP_KEYS, field)
    query = _parse_query(cond.get("query"), f"{field}.query")
    if cond.get("above") is None:
        raise ScenarioError(f"{field}.above", "is required")
    above = _number(cond["above"], f"{field}.above")
    for_seconds = 0.0 if cond.get("for") is None else _duration(cond["for"], f"{field}.for")
    return StopCondition(query=query, above=above, for_seconds=for_seconds)


def _parse_query(value: Any, field: str, multiline: bool = False) -> str:
    """A PromQL string; `multiline` allows line breaks and tabs (a YAML block scalar)."""
    if not isinstance(value, str) or not value.strip():
        raise ScenarioError(field, f"must be a non-empty PromQL string, got {_show(value)}")
    text = re.sub(r"[\n\r\t]", " ", value) if multiline else value
    if _CONTROL.search(text):
        what = ("PromQL without control characters" if multiline
                else "a single line without control characters")
        raise ScenarioError(field, f"must be {what}, got {_show(value)}")
    return value


def _parse_hypothesis(obj: Any, field: str) -> Hypothesis:
    hyp = _mapping(obj, field)
    _no_unknown_keys(hyp, _HYPOTHESIS_KEYS, field)
    name = hyp.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128 or _CONTROL.search(name):
        raise ScenarioError(
            f"{field}.name", f"must be 1 to 128 characters on one line, got {_show(name)}"
        )
    if hyp.get("query") is None:
        raise ScenarioError(f"{field}.query", "is required: PromQL returning one number")
    query = _parse_query(hyp["query"], f"{field}.query", multiline=True)
    windows = [w for w in Window if hyp.get(w.value) is not None]
    if len(windows) != 1:
        raise ScenarioError(field, (
            "needs exactly one window: during (while the faults were live) or after (from the "
            f"revert plus within), got {' and '.join(w.value for w in windows) or 'neither'}"
        ))
    window = windows[0]
    where = f"{field}.{window.value}"
    body = _mapping(hyp[window.value], where)
    _no_unknown_keys(body, _WINDOW_KEYS[window], where)
    low = None if body.get("min") is None else _number(body["min"], f"{where}.min")
    high = None if body.get("max") is None else _number(body["max"], f"{where}.max")
    if low is None and high is None:
        raise ScenarioError(where, "needs a bound: min, max or both (e.g. {min: 0.99})")
    if low is not None and high is not None and low > high:
        raise ScenarioError(where, f"min {low:g} is above max {high:g}")
    within = 0.0
    if body.get("within") is not None:
        within = _duration(body["within"], f"{where}.within")
        if within > MAX_WITHIN:
            raise ScenarioError(
                f"{where}.within", f"must be at most 1h, got {_show(body['within'])}"
            )
    return Hypothesis(name=name, query=query, window=window, min=low, max=high, within=within)


def parse_hypotheses(raw: Any, field: str = "spec.hypotheses") -> tuple[Hypothesis, ...]:
    """``spec.hypotheses``, validated; the report uses this too, so both read them alike."""
    if raw is None:
        return ()
    items = _sequence(raw, field)
    if len(items) > MAX_HYPOTHESES:
        raise ScenarioError(field, f"must hold at most {MAX_HYPOTHESES}, got {len(items)}")
    out = tuple(_parse_hypothesis(h, f"{field}[{i}]") for i, h in enumerate(items))
    seen: set[str] = set()
    for i, h in enumerate(out):
        if h.name in seen:
            raise ScenarioError(
                f"{field}[{i}].name", f"{h.name!r} is used twice: names must be unique"
            )
        seen.add(h.name)
    return out


def _sequence(value: Any, field: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ScenarioError(field, f"must be a list, got {_show(value)}")
    return value


def parse_spec(spec: Any, namespace: str, name: str) -> Scenario:
    """Validate ``spec`` of the OutageScenario ``namespace/name``."""
    namespace = _parse_k8s_name(namespace, "metadata.namespace", 63)
    name = _parse_k8s_name(name, "metadata.name", 253)
    if "." in namespace:
        raise ScenarioError(
            "metadata.namespace", f"invalid name {_show(namespace)}: a namespace has no '.'"
        )
    body = _mapping(spec, "spec")
    _no_unknown_keys(body, _SPEC_KEYS, "spec")

    start_after = 0.0
    if body.get("startAfter") is not None:
        start_after = _duration(body["startAfter"], "spec.startAfter")

    phases: tuple[FaultPhase, ...] = ()
    if body.get("phases") is not None:
        for key in ("faults", "duration"):
            if body.get(key) is not None:
                raise ScenarioError(f"spec.{key}", (
                    "cannot be given with spec.phases: each phase has its own faults and "
                    "duration (move it into the phases, or remove spec.phases)"))
        phases = _parse_phases(body["phases"])
        faults = tuple(f for p in phases for f in p.faults)
        duration = phases[-1].end
    else:
        faults = _parse_faults(body.get("faults"), "spec.faults")
        duration = _parse_phase_duration(body.get("duration"), "spec.duration")

    raw_stops = body.get("stopConditions")
    stops: tuple[StopCondition, ...] = ()
    if raw_stops is not None:
        stops = tuple(
            _parse_stop_condition(c, f"spec.stopConditions[{i}]")
            for i, c in enumerate(_sequence(raw_stops, "spec.stopConditions"))
        )
    on_error = OnError.ABORT
    if body.get("onError") is not None:
        raw = body["onError"]
        if not isinstance(raw, str) or raw not in OnError._value2member_map_:
            raise ScenarioError(
                "spec.onError",
                f"invalid value {_show(raw)}: want 'abort' (the default: a stop condition "
                "that cannot be evaluated stops the scenario) or 'continue'",
            )
        on_error = OnError(raw)
    hypotheses = parse_hypotheses(body.get("hypotheses"))
    schedule = None if body.get("schedule") is None else _parse_schedule(body["schedule"])
    return Scenario(
        namespace=namespace,
        name=name,
        faults=faults,
        start_after=start_after,
        duration=duration,
        stop_conditions=stops,
        on_error=on_error,
        hypotheses=hypotheses,
        phases=phases,
        schedule=schedule,
    )


def _parse_faults(raw: Any, field: str) -> tuple[Fault, ...]:
    if raw is None:
        raise ScenarioError(field, f"is required: 1 to {MAX_FAULTS} faults"
                            + (" (or spec.phases instead)" if field == "spec.faults" else ""))
    raw = _sequence(raw, field)
    if not 1 <= len(raw) <= MAX_FAULTS:
        raise ScenarioError(field, f"must hold 1 to {MAX_FAULTS} faults, got {len(raw)}")
    return tuple(_parse_fault(f, f"{field}[{i}]") for i, f in enumerate(raw))


def _parse_phase_duration(raw: Any, field: str) -> float:
    if raw is None:
        raise ScenarioError(field, "is required, e.g. '2m' (at most 24h)")
    duration = _duration(raw, field)
    if not 0 < duration <= MAX_DURATION:
        raise ScenarioError(field, f"must be more than 0s and at most 24h, got {_show(raw)}")
    return duration


def _parse_phases(raw: Any) -> tuple[FaultPhase, ...]:
    """``spec.phases``: one after another, each after its own gap; 24 h in all at most."""
    items = _sequence(raw, "spec.phases")
    if not 1 <= len(items) <= MAX_PHASES:
        raise ScenarioError("spec.phases", f"must hold 1 to {MAX_PHASES} phases, got {len(items)}")
    out: list[FaultPhase] = []
    at = 0.0
    names: set[str] = set()
    for i, item in enumerate(items):
        field = f"spec.phases[{i}]"
        body = _mapping(item, field)
        _no_unknown_keys(body, _PHASE_KEYS, field)
        name = body.get("name", f"phase {i + 1}")
        if (not isinstance(name, str) or not name.strip() or len(name) > 64
                or _CONTROL.search(name)):
            raise ScenarioError(f"{field}.name",
                                f"must be 1 to 64 characters on one line, got {_show(name)}")
        if name in names:
            raise ScenarioError(f"{field}.name", f"{name!r} is used twice: names must be unique")
        names.add(name)
        gap = 0.0
        if body.get("startAfter") is not None:
            gap = _duration(body["startAfter"], f"{field}.startAfter")
            if gap > MAX_DURATION:
                raise ScenarioError(f"{field}.startAfter",
                                    f"must be at most 24h, got {_show(body['startAfter'])}")
        faults = _parse_faults(body.get("faults"), f"{field}.faults")
        duration = _parse_phase_duration(body.get("duration"), f"{field}.duration")
        if duration < 1:
            raise ScenarioError(f"{field}.duration", (
                f"must be at least 1s, got {_show(body['duration'])} (phases switch on "
                "CoreDNS's clock, to the second)"))
        out.append(FaultPhase(name=name, faults=faults, start=at + gap, duration=duration))
        at += gap + duration
    if at > MAX_DURATION:
        raise ScenarioError("spec.phases", (
            f"the phases with their gaps last {format_duration(at)}: the whole scenario must "
            "be at most 24h (shorten a phase or a startAfter)"))
    return tuple(out)


def _parse_schedule(raw: Any) -> Schedule:
    """``spec.schedule``: a cron in UTC, a concurrency policy, suspend, how many runs kept."""
    body = _mapping(raw, "spec.schedule")
    _no_unknown_keys(body, _SCHEDULE_KEYS, "spec.schedule")
    if body.get("cron") is None:
        raise ScenarioError("spec.schedule.cron", "is required, e.g. '0 9 * * 1-5' (UTC)")
    try:
        cron = parse_cron(body["cron"]).text
    except CronError as exc:
        raise ScenarioError("spec.schedule.cron", str(exc)) from None
    policy = ConcurrencyPolicy.FORBID
    if body.get("concurrencyPolicy") is not None:
        raw_policy = body["concurrencyPolicy"]
        if raw_policy not in ConcurrencyPolicy._value2member_map_:
            raise ScenarioError("spec.schedule.concurrencyPolicy", (
                f"invalid value {_show(raw_policy)}: want Forbid (the default: skip a tick "
                "while a run is going) or Allow"))
        policy = ConcurrencyPolicy(raw_policy)
    suspend = body.get("suspend", False)
    if not isinstance(suspend, bool):
        raise ScenarioError("spec.schedule.suspend", f"must be true or false, got {_show(suspend)}")
    limit = body.get("historyLimit", 3)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY:
        raise ScenarioError("spec.schedule.historyLimit",
                            f"must be a whole number from 1 to {MAX_HISTORY}, got {_show(limit)}")
    return Schedule(cron=cron, concurrency_policy=policy, suspend=suspend, history_limit=limit)


def parse_scenario(obj: Any) -> Scenario:
    """Validate a whole OutageScenario manifest (as loaded from YAML or the API)."""
    doc = _mapping(obj, "manifest")
    _no_unknown_keys(doc, _TOP_KEYS, "manifest")
    if doc.get("apiVersion") != API_VERSION:
        raise ScenarioError(
            "apiVersion", f"must be {API_VERSION!r}, got {_show(doc.get('apiVersion'))}"
        )
    if doc.get("kind") != KIND:
        raise ScenarioError("kind", f"must be {KIND!r}, got {_show(doc.get('kind'))}")
    metadata = _mapping(doc.get("metadata"), "metadata")
    if metadata.get("name") is None:
        raise ScenarioError("metadata.name", "is required")
    namespace = metadata.get("namespace")
    if namespace is None:
        namespace = "default"
    if doc.get("spec") is None:
        raise ScenarioError("spec", "is required")
    return parse_spec(doc["spec"], namespace, metadata["name"])
