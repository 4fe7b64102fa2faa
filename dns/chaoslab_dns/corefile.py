"""The pure scenario -> Corefile compiler.

The operator owns only the lines between a pair of marker lines inside a server block; the
rest of the Corefile belongs to the user and is copied byte for byte. Each marked section is
filled with ONE ``chaoslab { ... }`` block holding every fault of every active scenario, in a
fixed precedence order, so the same set of scenarios always yields the same text:

1. exact names before wildcards (an exact target is the more specific statement);
2. then names with more labels before fewer (``*.us-east-1.aws.internal`` before
   ``*.aws.internal``), then alphabetically by target;
3. then by scenario namespace, scenario name and the fault's index in its scenario.

The plugin evaluates rules in that order and applies the first one whose probability roll
fires. With no scenario every section is empty and the output equals the base.

Every rule carries its scenario's absolute end (``until 2026-12-01T19:00:00Z``, UTC, with
milliseconds when they are not zero), so CoreDNS stops applying it by itself once it has
passed, even if no operator is left to rewrite the Corefile. A scenario without an end
(``Scenario.until``) is refused rather than compiled into a fault that could last forever.

A phased scenario (``spec.phases``) is compiled whole: each fault carries its phase's
absolute window (``from`` the phase's start, omitted for a phase that begins at injection,
``until`` its end), so CoreDNS's own clock switches phases with no Corefile write, on time
even when the operator is slow or gone. The text depends only on the scenario and its
injection time, so it does not change at a phase boundary.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .durations import format_duration
from .model import Fault, Mode, Scenario

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "CorefileError",
    "check_corefile",
    "clients_token",
    "compile_corefile",
    "fault_line",
    "fault_scenario",
    "fault_zones",
    "format_until",
    "marked_faults",
    "strip_faults",
    "zone_covers",
]

BEGIN_MARKER = "# BEGIN chaoslab faults (managed by the chaoslab operator; do not edit)"
END_MARKER = "# END chaoslab faults"

HOW_TO_ADD_MARKERS = (
    "add these two lines, indented like the plugins around them, inside every server block "
    "whose names faults may target (e.g. right after 'errors'):\n"
    f"    {BEGIN_MARKER}\n    {END_MARKER}"
)

# Tokens the compiler may write, checked again here as defence in depth.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TARGET = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")
_SCENARIO_KEY = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?/[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_PROBABILITY = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:e-[0-9]+)?")
_DURATION = re.compile(r"(?:[0-9]+(?:h|m|s|ms|us|ns))+")
_UNTIL = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z"
_SAFE_LINE = re.compile(rf"chaoslab \{{|\}}|fault(?: [a-z0-9*./:,-]+| (?:from|until) {_UNTIL})+")
# The plugin's limit of entries in one `clients` clause (dns/coredns/chaoslab/README.md).
MAX_CLIENTS = 4096
# The years the plugin accepts in `until` (dns/coredns/chaoslab/parse.go).
_UNTIL_MIN = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_UNTIL_MAX = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


class CorefileError(ValueError):
    """A base Corefile the compiler cannot manage, or compiler output that failed its check."""


@dataclass(frozen=True)
class _Section:
    begin: int  # index of the BEGIN line
    end: int  # index of the END line
    indent: str  # leading whitespace of the BEGIN line
    eol: str  # "\r" if the file uses CRLF line ends, else ""


def _is_marker(line: str, marker: str) -> bool:
    return line.rstrip("\r").strip(" \t") == marker


def _sections(lines: list[str]) -> list[_Section]:
    """Find marker pairs; raise on a nested, unclosed or unopened marker."""
    found: list[_Section] = []
    open_at: int | None = None
    for i, line in enumerate(lines):
        if _is_marker(line, BEGIN_MARKER):
            if open_at is not None:
                raise CorefileError(
                    f"line {i + 1}: BEGIN marker inside the section opened on line {open_at + 1}"
                )
            open_at = i
        elif _is_marker(line, END_MARKER):
            if open_at is None:
                raise CorefileError(f"line {i + 1}: END marker without a BEGIN marker before it")
            begin = lines[open_at]
            indent = begin[: len(begin) - len(begin.lstrip(" \t"))]
            found.append(_Section(open_at, i, indent, "\r" if begin.endswith("\r") else ""))
            open_at = None
    if open_at is not None:
        raise CorefileError(f"line {open_at + 1}: BEGIN marker without an END marker after it")
    return found


def _precedence(item: tuple[Scenario, int, Fault]) -> tuple[bool, int, str, str, str, int]:
    scenario, index, fault = item
    return (
        fault.wildcard,
        -len(fault.suffix.split(".")),
        fault.target,
        scenario.namespace,
        scenario.name,
        index,
    )


def _probability_token(p: float) -> str:
    text = repr(p) if isinstance(p, float) else ""
    if not _PROBABILITY.fullmatch(text) or not 0 < p <= 1:
        raise CorefileError(f"probability {p!r} cannot be written as a Corefile token")
    return text


def format_until(ts: float) -> str:
    """Epoch seconds -> the ``until`` token: RFC 3339 UTC, milliseconds only when not zero.

    Rounded to the millisecond like the status's ``endAt``, so the rule shows the same end.
    """
    if not isinstance(ts, int | float) or not math.isfinite(ts):
        raise CorefileError(f"end {ts!r} is not a time")
    ms = round(ts * 1000)
    if not _UNTIL_MIN * 1000 <= ms < _UNTIL_MAX * 1000:
        raise CorefileError(f"end {ts!r} is outside the years 2000 to 2199")
    moment = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment}.{ms % 1000:03d}Z" if ms % 1000 else f"{moment}Z"


def clients_token(entries: Iterable[str]) -> str:
    """The ``clients`` value: addresses/prefixes sorted (IPv4 first, numerically), or ``none``.

    Sorting and de-duplicating make the Corefile a function of the address *set*, so a
    re-listing in another order never rewrites the ConfigMap.
    """
    nets = set()
    for entry in entries:
        try:
            nets.add(ipaddress.ip_network(entry))
        except ValueError:
            raise CorefileError(f"client {entry!r} is not an address or CIDR") from None
    if len(nets) > MAX_CLIENTS:
        raise CorefileError(f"{len(nets)} client addresses: the plugin takes at most "
                            f"{MAX_CLIENTS} per rule; narrow the selector or use cidrs")
    ordered = sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    words = [str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)
             for n in ordered]
    return ",".join(words) or "none"


def fault_line(fault: Fault, scenario_key: str, until: float,
               pod_addresses: Collection[str] = (), start: float | None = None) -> str:
    """The plugin's ``fault`` line for one fault (see dns/coredns/chaoslab/README.md).

    ``pod_addresses`` are the resolved pod IPs of a pod-selecting ``clients`` scope; the
    line's ``clients`` clause is them plus the scope's cidrs (``none`` when both are empty).
    ``start``: the absolute start of a later phase (``from``); None applies from the load.
    """
    if not _TARGET.fullmatch(fault.target) or len(fault.target) > 253:
        raise CorefileError(f"target {fault.target!r} is not a valid DNS name")
    if not _SCENARIO_KEY.fullmatch(scenario_key):
        raise CorefileError(f"scenario {scenario_key!r} is not namespace/name")
    if fault.mode not in Mode._value2member_map_:
        raise CorefileError(f"mode {fault.mode!r} is not a chaoslab mode")
    mode = Mode(fault.mode)
    parts = ["fault", fault.target, mode.value]
    if fault.probability != 1.0:
        parts += ["probability", _probability_token(fault.probability)]
    if mode is Mode.DELAY:
        ok = isinstance(fault.delay, int | float) and 0 < fault.delay <= 30
        delay = format_duration(fault.delay) if ok else ""
        delay = "" if delay == "0s" else delay  # below Go's 1ns resolution
        if not _DURATION.fullmatch(delay):
            raise CorefileError(f"delay {fault.delay!r} is not in (0s, 30s]")
        parts += ["delay", delay]
    elif fault.delay is not None:
        raise CorefileError(f"delay given for mode {mode.value}")
    if mode is Mode.REDIRECT:
        try:
            address = str(ipaddress.IPv4Address(fault.redirect_to or ""))
        except ValueError:
            address = ""
        if address != fault.redirect_to:
            raise CorefileError(f"redirect address {fault.redirect_to!r} is not an IPv4 address")
        parts += ["redirect", address]
    elif fault.redirect_to is not None:
        raise CorefileError(f"redirect address given for mode {mode.value}")
    if start is not None:
        if round(start * 1000) >= round(until * 1000):
            raise CorefileError(f"start {start!r} is not before the end {until!r}")
        parts += ["from", format_until(start)]
    parts += ["until", format_until(until)]
    if fault.clients is not None:
        parts += ["clients", clients_token([*pod_addresses, *fault.clients.cidrs])]
    elif pod_addresses:
        raise CorefileError(f"client addresses given for the unscoped fault {fault.target}")
    parts += ["scenario", scenario_key]
    return " ".join(parts)


def _until(scenario: Scenario) -> float:
    if scenario.until is None:
        raise CorefileError(
            f"scenario {scenario.key} has no end: every rule must carry one "
            "(set Scenario.until, e.g. with scenario.injected(at))"
        )
    return scenario.until


Addresses = Mapping[tuple[str, int], Collection[str]]


def _window(scenario: Scenario, index: int) -> tuple[float | None, float]:
    """Fault ``index``'s absolute (from, until): its phase's window, ``from`` omitted when the
    phase begins at injection (the rule applies once loaded, as an unphased one does)."""
    until = _until(scenario)
    if not scenario.phases:
        return None, until
    injected = scenario.injected_at
    if injected is None:
        injected = until - scenario.duration
    start, end = scenario.fault_windows()[index]
    return (None if start == 0 else injected + start), injected + end


def _fault_lines(scenarios: Iterable[Scenario], addresses: Addresses | None = None) -> list[str]:
    """Every phase of every scenario at once: CoreDNS's clock switches between them."""
    seen: set[str] = set()
    items: list[tuple[Scenario, int, Fault]] = []
    for scenario in scenarios:
        if scenario.key in seen:
            raise CorefileError(f"scenario {scenario.key} given twice")
        seen.add(scenario.key)
        _until(scenario)
        items.extend((scenario, i, f) for i, f in enumerate(scenario.faults))
    got = addresses or {}
    lines = []
    for s, i, f in sorted(items, key=_precedence):
        start, until = _window(s, i)
        lines.append(fault_line(f, s.key, until, got.get((s.key, i), ()), start))
    return lines


def compile_corefile(base: str, scenarios: Iterable[Scenario],
                     addresses: Addresses | None = None) -> str:
    """Fill every marked section of ``base`` with the faults of ``scenarios``.

    Text outside the markers is never changed; whatever was between them is replaced (so a
    live Corefile works as ``base`` too). No scenario -> every section empty. ``addresses``
    maps ``(scenario key, fault index)`` to the pod IPs its ``clients`` selects right now
    (``chaoslab_dns.clients.fault_addresses``); a scoped fault missing from it gets only its
    cidrs, or ``clients none``.
    """
    check_corefile(base)
    lines = base.split("\n")
    sections = _sections(lines)
    if not sections:
        raise CorefileError("the base Corefile has no chaoslab markers; " + HOW_TO_ADD_MARKERS)
    faults = _fault_lines(scenarios, addresses)
    out: list[str] = []
    prev = 0
    for sec in sections:
        out.extend(lines[prev : sec.begin + 1])
        if faults:
            unit = "\t" if "\t" in sec.indent else "    "
            out.append(f"{sec.indent}chaoslab {{{sec.eol}")
            out.extend(f"{sec.indent}{unit}{line}{sec.eol}" for line in faults)
            out.append(f"{sec.indent}}}{sec.eol}")
        prev = sec.end
    out.extend(lines[prev:])
    text = "\n".join(out)
    check_corefile(text)
    return text


def strip_faults(text: str) -> str:
    """Empty every marked section: the pristine base, recovered from a live Corefile."""
    lines = text.split("\n")
    out: list[str] = []
    prev = 0
    for sec in _sections(lines):
        out.extend(lines[prev : sec.begin + 1])
        prev = sec.end
    out.extend(lines[prev:])
    return "\n".join(out)


def marked_faults(text: str) -> list[str]:
    """The ``fault`` lines inside the marked sections, once each (every server block holds
    the same rules): what is live in a Corefile, for the kill switch and ``chaoslab corefile``
    to name instead of dropping it silently."""
    lines = text.split("\n")
    found: dict[str, None] = {}
    for sec in _sections(lines):
        for line in lines[sec.begin + 1 : sec.end]:
            words = line.strip().split()
            if words[:1] == ["fault"]:
                found[" ".join(words)] = None
    return list(found)


def fault_scenario(line: str) -> str:
    """``namespace/name`` of a ``fault`` line ("" if it names none)."""
    words = line.split()
    return words[words.index("scenario") + 1] if "scenario" in words[:-1] else ""


def _brace_depths(text: str) -> list[int]:
    """Brace depth at the start of each line, lexing like CoreDNS's Corefile reader.

    Tokens are split on whitespace; ``"`` quotes (with backslash escapes) group a token;
    ``#`` at the start of a token comments out the rest of the line; only a token that is
    exactly ``{`` or ``}`` opens or closes a block.
    """
    depths: list[int] = []
    depth, line_no = 0, 1
    opened: list[int] = []
    token, quoted, escaped, comment, quote_line = "", False, False, False, 0

    def end_token() -> None:
        nonlocal depth, token
        if token == "{":
            depth += 1
            opened.append(line_no)
        elif token == "}":
            if depth == 0:
                raise CorefileError(f"line {line_no}: '}}' closes no block")
            depth -= 1
            opened.pop()
        token = ""

    depths.append(0)
    for ch in text:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            token += "\x00" if ch in "{}" else ch  # a quoted brace is not a block
        elif comment:
            if ch == "\n":
                comment = False
        elif ch.isspace():
            end_token()
        elif ch == "#" and not token:
            comment = True
        elif ch == '"':
            quoted, quote_line = True, line_no
            token += "\x00"
        else:
            token += ch
        if ch == "\n":
            line_no += 1
            depths.append(depth if not token else -1)  # -1: a quoted token spans lines
    if quoted:
        raise CorefileError(f"line {quote_line}: quote opened here is never closed")
    end_token()
    if depth:
        raise CorefileError(f"line {opened[-1]}: '{{' opened here is never closed")
    return depths


def check_corefile(text: str) -> None:
    """Static sanity check before a Corefile is written; raises CorefileError.

    Braces balance, quotes close, markers pair up inside a server block (both ends at the
    same depth), and every line between markers is compiler output made of plain tokens.
    """
    depths = _brace_depths(text)
    lines = text.split("\n")
    for sec in _sections(lines):
        where = f"line {sec.begin + 1}"
        if depths[sec.begin] < 1:
            raise CorefileError(f"{where}: chaoslab markers must be inside a server block")
        if depths[sec.end] != depths[sec.begin]:
            raise CorefileError(f"{where}: BEGIN and END markers are in different blocks")
        body: list[str] = []
        for number in range(sec.begin + 1, sec.end):
            line = lines[number].rstrip("\r").strip(" \t")
            if not line:
                continue  # blank lines are harmless
            if not _SAFE_LINE.fullmatch(line):
                raise CorefileError(
                    f"line {number + 1}: unexpected text between the chaoslab markers: "
                    f"{line!r} (that section is owned by the compiler)"
                )
            body.append(line)
        if body and (body[0] != "chaoslab {" or body[-1] != "}" or "}" in body[1:-1]):
            raise CorefileError(f"{where}: the marked section must hold one chaoslab block")


_SCHEME = re.compile(r"^[a-z0-9+.-]+://")


def _zone(key: str) -> str:
    """A server block key ("aws.internal:53", "dns://.:53", ".") -> its zone, "" for the root."""
    key = _SCHEME.sub("", key.lower())
    host, sep, port = key.rpartition(":")
    if sep and port.isdigit():
        key = host
    return key.rstrip(".")


def fault_zones(text: str) -> list[str]:
    """Zones of the server blocks holding a marked section: the names a fault can reach.

    A fault for a name outside all of them is compiled but never fires, so the operator
    refuses it; "" is the root zone (a ``.`` block: every name).
    """
    lines = text.split("\n")
    depths = _brace_depths(text)
    headers: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines):
        if depths[number] != 0:
            continue
        tokens = line.split("#", 1)[0].split()
        if "{" in tokens:
            headers.append((number, [_zone(k) for k in tokens[: tokens.index("{")]]))
    zones: list[str] = []
    for sec in _sections(lines):
        owners = [keys for start, keys in headers if start < sec.begin]
        for zone in owners[-1] if owners else []:
            if zone not in zones:
                zones.append(zone)
    return zones


def zone_covers(zone: str, target: str) -> bool:
    """Can a query for ``target`` (a name or ``*.suffix``) reach a server block for ``zone``?"""
    wildcard = target.startswith("*.")
    name = target[2:] if wildcard else target
    if zone == "" or name == zone or name.endswith("." + zone):
        return True
    return wildcard and zone.endswith("." + name)  # *.internal reaches aws.internal's names
