"""Readings of /proc shared by the benchmarks: the process table, process trees, the machine's busy CPU time,
a process's peak RSS and the PostgreSQL backends of a database. Linux only."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")  # clock ticks a second: the unit of the CPU times in /proc
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Proc:
    """One process as /proc/<pid>/stat and cmdline show it."""

    ppid: int
    cpu: float  # CPU seconds used so far (user + system)
    rss_kib: int
    argv: list[str]


def processes() -> dict[int, Proc]:
    """Every process visible in /proc (those that vanish while being read are left out)."""
    table: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid ... utime stime ... rss
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        table[int(entry.name)] = Proc(int(fields[1]), cpu, int(fields[21]) * PAGE_KIB, argv)
    return table


def tree(table: dict[int, Proc], *roots: int) -> list[int]:
    """The ``roots`` and all their descendants that are in ``table``, each once."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found: list[int] = []
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in table and pid not in seen:
            seen.add(pid)
            found.append(pid)
            stack.extend(children.get(pid, []))
    return found


def tree_cpu(table: dict[int, Proc], *roots: int) -> float:
    """CPU seconds used so far by the ``roots`` and all their descendants."""
    return sum(table[pid].cpu for pid in tree(table, *roots))


def own_child(table: dict[int, Proc], *words: str) -> int | None:
    """The pid of a process of this process's tree whose command line holds all ``words`` in order."""
    for pid in tree(table, os.getpid()):
        line = " ".join(table[pid].argv)
        if pid != os.getpid() and re.search(".*".join(re.escape(w) for w in words), line):
            return pid
    return None


def postgres_backends(table: dict[int, Proc], dbname: str) -> list[int]:
    """Pids of the PostgreSQL backends connected to the database ``dbname`` ("postgres: user dbname host ...")."""
    return [
        pid
        for pid, proc in table.items()
        if proc.argv[:1] and proc.argv[0].startswith("postgres:") and f" {dbname} " in proc.argv[0]
    ]


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the highest RSS the process has had, in KiB (0 when it cannot be read)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK
