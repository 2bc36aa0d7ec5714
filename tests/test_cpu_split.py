"""``bench/api/cpu_split.py``: /proc parsed into CPU time per process group, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.api import cpu_split


def _stat(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    # fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    return f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 10 0 0 0 {utime} {stime} {cutime} {cstime} 20 0 1 0\n"


def test_stat_line_sums_own_and_reaped_children_time_and_survives_odd_names():
    assert cpu_split.parse_stat(_stat(7, "a) b (c", 3, 10, 5, 2, 1)) == ("a) b (c", 3, 18)


def test_machine_line_splits_busy_idle_and_steal():
    text = "cpu  100 1 20 500 7 3 4 9 0 0\ncpu0 50 0 10 250 3 1 2 4 0 0\nintr 1\n"
    assert cpu_split.parse_machine(text) == {"busy": 128, "idle": 507, "steal": 9}
    with pytest.raises(ValueError):
        cpu_split.parse_machine("intr 1\n")


def _proc(root: Path, pid: int, comm: str, ppid: int, ticks: int, cmdline: bytes) -> None:
    (root / str(pid)).mkdir()
    (root / str(pid) / "stat").write_text(_stat(pid, comm, ppid, ticks, 0))
    (root / str(pid) / "cmdline").write_bytes(cmdline)


def test_processes_fall_into_their_groups(tmp_path):
    _proc(tmp_path, 1, "init", 0, 1000, b"/sbin/init\0")
    _proc(tmp_path, 10, "python", 1, 3, b"python\0-m\0bench\0api\0")  # the bench: client
    _proc(tmp_path, 11, "honcho", 10, 2, b"honcho\0start\0")  # not counted
    _proc(tmp_path, 12, "python", 11, 5, b"python\0-m\0config.web\0")  # web
    _proc(tmp_path, 13, "granian", 12, 40, b"granian\0worker\0")  # web, a worker of it
    _proc(tmp_path, 14, "sh", 11, 0, b"/bin/sh\0-c\0celery -A config worker\0")  # worker
    _proc(tmp_path, 15, "celery", 14, 7, b"celery\0-A\0config\0worker\0")  # worker
    _proc(tmp_path, 16, "celery", 15, 9, b"celery\0-A\0config\0worker\0")  # worker (pool)
    _proc(tmp_path, 20, "postgres", 1, 100, b"/usr/lib/postgresql/15/bin/postgres\0-D\0x\0")  # postmaster
    _proc(tmp_path, 21, "postgres", 20, 30, b"postgres: 15/main: postgres shopfloor_x_bench 127.0.0.1(5) idle\0")
    _proc(tmp_path, 22, "postgres", 20, 50, b"postgres: 15/main: postgres test_other [local] idle\0")
    _proc(tmp_path, 23, "postgres", 20, 4, b"postgres: 15/main: walwriter \0")
    _proc(tmp_path, 30, "redis-server", 1, 11, b"redis-server 127.0.0.1:6379\0")
    (tmp_path / "stat").write_text("not a process")
    (tmp_path / "40").mkdir()  # a process gone while reading

    procs = cpu_split.read_procs(tmp_path)
    assert set(procs) == {1, 10, 11, 12, 13, 14, 15, 16, 20, 21, 22, 23, 30}
    got = cpu_split.group_ticks(procs, server_pid=11, self_pid=10, database="shopfloor_x_bench")
    # the bench database's backend and the shared walwriter; not another database's, not the postmaster
    assert got == {"web": 45, "postgres": 34, "redis": 11, "worker": 16, "client": 3}
    every = cpu_split.group_ticks(procs, server_pid=None, self_pid=10)
    assert every["web"] == every["worker"] == 0 and every["postgres"] == 184


def test_split_is_milliseconds_per_request_with_the_rest_of_the_machine_as_other():
    before = cpu_split.Snapshot(
        {"web": 1.0, "postgres": 2.0, "redis": 0.5, "worker": 0.1, "client": 0.2, "busy": 10.0, "idle": 5, "steal": 0},
        at=100.0,
    )
    after = cpu_split.Snapshot(
        {"web": 3.0, "postgres": 3.0, "redis": 0.7, "worker": 0.1, "client": 0.6, "busy": 14.0, "idle": 5, "steal": 1},
        at=102.0,
    )
    got = cpu_split.split(before, after, requests=1000)
    assert got == {
        "web": 2.0,
        "postgres": 1.0,
        "redis": 0.2,
        "worker": 0.0,
        "client": 0.4,
        "total": 3.6,
        "other": 0.4,
        "cores_busy": 2.0,
        "cores_stolen": 0.5,
    }
