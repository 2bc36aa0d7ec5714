"""Where a benchmark's CPU goes: CPU seconds per process group, read from /proc.

A snapshot sums user + system time (with the reaped children's, so a process
that exits between two snapshots still counts) over these groups:

- ``web``: the Procfile's web process and everything under it (honcho's
  descendants outside Celery's subtree);
- ``worker``: the Celery worker(s) under the same honcho, their pool included;
- ``postgres``: the PostgreSQL backends connected to the benchmark's database
  and the server's shared processes (WAL writer, checkpointer, autovacuum...),
  not other databases' backends: the machine may be shared. The backends must
  outlive the window (the web server's pool and Celery keep theirs): an ended
  backend's time goes to the postmaster, which is counted only when no
  database is named (then every PostgreSQL process counts);
- ``redis``: every ``redis-server`` process on the machine (not split by db);
- ``client``: the benchmark's own process (the load client runs in it).

and the machine's CPU time from /proc/stat: ``busy`` (user, nice, system, irq,
softirq, over all cores), ``idle`` (idle + iowait) and ``steal`` (taken by the
hypervisor). ``other`` in a split is the machine's busy time no group accounts
for: the kernel's loopback networking, honcho, and anything else running. It is
approximate: a process's time is sampled per tick and may include stolen time,
so on a virtual machine it can come out slightly below zero.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GROUPS = ("web", "postgres", "redis", "worker", "client")
# a client backend's title names its peer: "postgres: 15/main: user db 127.0.0.1(5432) idle"
_CLIENT_BACKEND = re.compile(rb"\d\(\d+\)|\[local\]")


@dataclass(frozen=True)
class Proc:
    ppid: int
    ticks: int  # utime + stime + cutime + cstime, in clock ticks
    comm: str
    cmdline: bytes


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds used so far per group (``GROUPS``) and by the machine (``busy``, ``idle``, ``steal``),
    read at ``at`` (``time.monotonic()``)."""

    seconds: dict[str, float]
    at: float


def parse_stat(text: str) -> tuple[str, int, int]:
    """``/proc/<pid>/stat`` -> (command name, parent pid, utime + stime + cutime + cstime ticks).
    The name is in parentheses and may hold spaces and parentheses itself, so split at the last ')'."""
    head, _, rest = text.rpartition(")")
    comm = head.partition("(")[2]
    fields = rest.split()  # fields[0] is the state (stat field 3); utime..cstime are fields 14-17
    return comm, int(fields[1]), sum(int(f) for f in fields[11:15])


def parse_machine(text: str) -> dict[str, int]:
    """``/proc/stat``'s all-cores ``cpu`` line -> busy, idle and steal ticks (guest time is inside user)."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            user, nice, system, idle, iowait, irq, softirq, steal = (int(f) for f in line.split()[1:9])
            return {"busy": user + nice + system + irq + softirq, "idle": idle + iowait, "steal": steal}
    raise ValueError("no 'cpu' line in /proc/stat")


def read_procs(root: Path = Path("/proc")) -> dict[int, Proc]:
    procs: dict[int, Proc] = {}
    for entry in root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, ppid, ticks = parse_stat((entry / "stat").read_text())
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
        procs[int(entry.name)] = Proc(ppid, ticks, comm, cmdline)
    return procs


def _subtree(procs: Mapping[int, Proc], roots: set[int]) -> set[int]:
    found, frontier = set(roots), set(roots)
    while frontier:
        frontier = {pid for pid, p in procs.items() if p.ppid in frontier} - found
        found |= frontier
    return found


def _postgres(p: Proc, database: str | None) -> bool:
    if not p.cmdline.startswith(b"postgres:"):  # the postmaster, or not PostgreSQL
        return database is None and p.comm == "postgres"
    return database is None or not _CLIENT_BACKEND.search(p.cmdline) or f" {database} ".encode() in p.cmdline


def group_ticks(
    procs: Mapping[int, Proc], *, server_pid: int | None, self_pid: int, database: str | None = None
) -> dict[str, int]:
    """Clock ticks per group; ``server_pid`` is honcho's (None: no server, web and worker 0);
    ``database`` the benchmark's (None: every PostgreSQL process counts)."""
    under = _subtree(procs, {server_pid}) - {server_pid} if server_pid is not None else set()
    celery = _subtree(procs, {pid for pid in under if b"celery" in procs[pid].cmdline})
    members = {
        "web": under - celery,
        "worker": celery,
        "postgres": {pid for pid, p in procs.items() if _postgres(p, database)},
        "redis": {pid for pid, p in procs.items() if p.comm == "redis-server"},
        "client": {self_pid} & procs.keys(),
    }
    return {group: sum(procs[pid].ticks for pid in members[group]) for group in GROUPS}


def snapshot(server_pid: int | None, database: str | None = None) -> Snapshot:
    tick = os.sysconf("SC_CLK_TCK")
    ticks = group_ticks(read_procs(), server_pid=server_pid, self_pid=os.getpid(), database=database)
    ticks.update(parse_machine(Path("/proc/stat").read_text()))
    return Snapshot({name: n / tick for name, n in ticks.items()}, time.monotonic())


def split(before: Snapshot, after: Snapshot, *, requests: int) -> dict[str, float]:
    """CPU milliseconds per request between two snapshots: each group, ``total`` (the groups'
    sum), ``other`` (the machine's busy time outside the groups); and how many cores the machine
    kept busy (``cores_busy``) and lost to the hypervisor (``cores_stolen``) meanwhile."""
    seconds = after.at - before.at
    used = {name: after.seconds[name] - before.seconds[name] for name in after.seconds}
    per = {group: 1000 * used[group] / requests for group in GROUPS}
    per["total"] = sum(per[group] for group in GROUPS)
    per["other"] = 1000 * used["busy"] / requests - per["total"]
    out = {name: round(ms, 3) for name, ms in per.items()}
    out["cores_busy"] = round(used["busy"] / seconds, 2)
    out["cores_stolen"] = round(used["steal"] / seconds, 2)
    return out
