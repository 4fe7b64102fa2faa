"""The node lab's changes to the host, recorded before they are made, undone exactly.

`up` writes a ledger (`.lab/node/host-changes.json`) first: what existed before it (the
iptables chains, network namespaces, cgroups, the sysctls the node's programs set), then
each change as it makes it. `down` reads the ledger, so it removes what this lab added and
nothing else, and works after an `up` that crashed half-way. Nothing of the uplink changes:
not its addresses, routes, or the default policies.

Host safety: pods may forward only through their own bridge. A rule
`FORWARD -s 10.244.0.0/16 ! -o chaoslab0 -j DROP` (first in the chain) drops anything a pod
sends toward any other interface, so no pod reaches an address off this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chaoslab.node import layout

# Every sysctl the node's programs may set: the CNI bridge (ip_forward), kube-proxy
# (route_localnet for NodePorts on 127.0.0.1, bridge netfilter), the kubelet (its
# "kernel defaults"). Recorded before `up`, put back by `down` where they differ.
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.netfilter.nf_conntrack_max",
)
TABLES = ("filter", "nat", "mangle", "raw")
CGROUP_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")
Progress = Callable[[str], None]


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    values = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            values[name] = _sysctl_path(name).read_text().strip()
    return values


def chains() -> dict[str, list[str]]:
    """Chain names of every iptables table (`iptables-save` syntax: `:NAME POLICY`)."""
    found: dict[str, list[str]] = {}
    for table in TABLES:
        out = _run("iptables-save", "-t", table, check=False).stdout
        found[table] = [line[1:].split()[0] for line in out.splitlines() if line.startswith(":")]
    return found


def rules(table: str) -> list[str]:
    """The `-A CHAIN ...` lines of a table."""
    out = _run("iptables-save", "-t", table, check=False).stdout
    return [line for line in out.splitlines() if line.startswith("-A ")]


def cgroup_hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy (v1 controllers and the v2 mount of hybrid mode)."""
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] in ("cgroup", "cgroup2"):
            mounts.append(Path(parts[1]))
    return mounts


def top_cgroups() -> dict[str, list[str]]:
    return {str(h): sorted(p.name for p in h.iterdir() if p.is_dir()) for h in cgroup_hierarchies()}


def netns_names() -> list[str]:
    return sorted(p.name for p in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []


def link_exists(name: str) -> bool:
    return _run("ip", "link", "show", name, check=False).returncode == 0


def forward_guard() -> list[str]:
    """The host-safety rule (see the module docstring), as iptables arguments."""
    return ["-s", layout.POD_SUPERNET, "!", "-o", layout.BRIDGE, "-m", "comment",
            "--comment", f"{layout.IPTABLES_COMMENT}: pods never leave this machine",
            "-j", "DROP"]


@dataclass
class Ledger:
    path: Path
    sysctls_before: dict[str, str] = field(default_factory=dict)
    chains_before: dict[str, list[str]] = field(default_factory=dict)
    netns_before: list[str] = field(default_factory=list)
    netns_dir_existed: bool = True
    cgroups_before: dict[str, list[str]] = field(default_factory=dict)
    bridge_created: bool = False
    rules_added: list[list[str]] = field(default_factory=list)  # [table, chain, *spec]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.path)

    @classmethod
    def load(cls, path: Path) -> Ledger:
        data = json.loads(path.read_text())
        return cls(path=path, **{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def snapshot(cls, path: Path) -> Ledger:
        ledger = cls(path=path, sysctls_before=read_sysctls(), chains_before=chains(),
                     netns_before=netns_names(), netns_dir_existed=NETNS_DIR.is_dir(),
                     cgroups_before=top_cgroups())
        ledger.save()
        return ledger


def prepare(ledger: Ledger, progress: Progress) -> None:
    """The bridge with the node's address, and the host-safety rule, each recorded first."""
    if not link_exists(layout.BRIDGE):
        ledger.bridge_created = True
        ledger.save()
        _run("ip", "link", "add", layout.BRIDGE, "type", "bridge")
        _run("ip", "addr", "add", f"{layout.NODE_IP}/24", "dev", layout.BRIDGE)
        _run("ip", "link", "set", layout.BRIDGE, "up")
        progress(f"bridge {layout.BRIDGE} with the node's address {layout.NODE_IP}")
    guard = ["filter", "FORWARD", *forward_guard()]
    if guard not in ledger.rules_added:
        ledger.rules_added.append(guard)
        ledger.save()
        _run("iptables", "-t", "filter", "-I", "FORWARD", "1", *forward_guard())
        progress(f"iptables: pods ({layout.POD_SUPERNET}) may forward only through "
                 f"{layout.BRIDGE}, never off this machine")


def undo(ledger: Ledger, progress: Progress) -> list[str]:
    """Undo what the ledger records; returns what could not be undone (empty when clean)."""
    problems: list[str] = []
    for name in sorted(set(netns_names()) - set(ledger.netns_before)):
        if _run("ip", "netns", "delete", name, check=False).returncode != 0:
            problems.append(f"network namespace {name} could not be removed")
    if not ledger.netns_dir_existed and NETNS_DIR.is_dir() and not netns_names():
        _unmount(NETNS_DIR)
        with contextlib.suppress(OSError):
            NETNS_DIR.rmdir()

    for table, chain, *spec in ledger.rules_added:
        while _run("iptables", "-t", table, "-C", chain, *spec, check=False).returncode == 0:
            _run("iptables", "-t", table, "-D", chain, *spec, check=False)
    problems += _remove_new_chains(ledger)

    if ledger.bridge_created and link_exists(layout.BRIDGE):
        _run("ip", "link", "delete", layout.BRIDGE, check=False)
        progress(f"removed bridge {layout.BRIDGE}")
    if ledger.bridge_created and link_exists(layout.BRIDGE):
        problems.append(f"bridge {layout.BRIDGE} is still there")

    now = read_sysctls()
    for name, before in ledger.sysctls_before.items():
        if now.get(name) != before:
            try:
                _sysctl_path(name).write_text(before + "\n")
                progress(f"sysctl {name}: {now.get(name)} -> {before} (as before the lab)")
            except OSError as exc:
                problems.append(f"sysctl {name} could not be put back to {before}: {exc}")

    for hierarchy, before in ledger.cgroups_before.items():
        root = Path(hierarchy)
        if not root.is_dir():
            continue
        for child in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in before):
            if not _remove_cgroup_tree(child):
                problems.append(f"cgroup {child} could not be removed (processes still in it?)")
    return problems


def _remove_new_chains(ledger: Ledger) -> list[str]:
    """Chains that appeared during the lab (kube-proxy's KUBE-*, the CNI plugins' CNI-*),
    with the rules of other chains that jump to them."""
    problems = []
    for table in TABLES:
        before = set(ledger.chains_before.get(table, []))
        new = [c for c in chains().get(table, []) if c not in before]
        if not new:
            continue
        for line in rules(table):
            parts = shlex.split(line)
            target = parts[parts.index("-j") + 1] if "-j" in parts else ""
            if target in new and parts[1] not in new:
                _run("iptables", "-t", table, "-D", *parts[1:], check=False)
        for chain in new:
            _run("iptables", "-t", table, "-F", chain, check=False)
        for chain in new:
            if _run("iptables", "-t", table, "-X", chain, check=False).returncode != 0:
                problems.append(f"iptables chain {table}/{chain} could not be removed")
    return problems


def _remove_cgroup_tree(path: Path) -> bool:
    for child in sorted((p for p in path.rglob("*") if p.is_dir()),
                        key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            child.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()
    return not path.exists()


def mounts_under(*roots: Path) -> list[Path]:
    """Mount points at or below any of `roots`, deepest first."""
    found = []
    prefixes = [str(r.resolve()) for r in roots]
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].encode().decode("unicode_escape")
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def _unmount(point: Path) -> bool:
    if _run("umount", str(point), check=False).returncode == 0:
        return True
    return _run("umount", "-l", str(point), check=False).returncode == 0


def unmount_all(*roots: Path) -> list[str]:
    problems = []
    for _ in range(3):  # a mount may hide another below it
        points = mounts_under(*roots)
        if not points:
            return []
        for point in points:
            _unmount(point)
    for point in mounts_under(*roots):
        problems.append(f"mount {point} could not be removed")
    return problems


def require_root() -> None:
    if os.geteuid() != 0:
        raise PermissionError("the node lab runs a kubelet and changes the host's network: "
                              "run it as root (sudo make up LAB=node)")
