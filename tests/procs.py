"""Reading the process tree from /proc (Linux): the answer-process tests and the ack
benchmark look for a server's children."""

from __future__ import annotations

from pathlib import Path


def child_pids(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended while we looked
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after the ")"
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found
