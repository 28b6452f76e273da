#!/usr/bin/env python3
"""Attribute a running process's resident memory to where it goes, from /proc/PID/smaps.

    scripts/rss-breakdown.py PID

Classes (Rss of each mapping, KiB):
  binary        file mappings of the executable itself (text, rodata, data)
  shared libs   other file mappings (libc, ld.so, libm, ...)
  main heap     [heap]: glibc's main arena (brk)
  malloc arenas anonymous mappings inside 64 MiB-aligned regions that glibc reserves for the
                arenas of other threads (HEAP_MAX_SIZE on 64-bit is 64 MiB)
  thread stacks anonymous read-write mappings directly above a guard page (pthread stacks)
  main stack    [stack]
  other anon    everything else anonymous: large malloc'd blocks served by mmap, TLS, ...
"""
import re
import sys

ARENA = 64 * 1024 * 1024


def mappings(pid):
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$", line)
            if m:
                if cur:
                    yield cur
                cur = {
                    "start": int(m.group(1), 16),
                    "end": int(m.group(2), 16),
                    "perms": m.group(3),
                    "path": m.group(4).strip(),
                    "rss": 0,
                }
            elif line.startswith("Rss:") and cur:
                cur["rss"] = int(line.split()[1])
    if cur:
        yield cur


def main():
    pid = sys.argv[1]
    exe = open(f"/proc/{pid}/cmdline").read().split("\0")[0]
    import os

    exe = os.path.realpath(f"/proc/{pid}/exe")
    maps = list(mappings(pid))
    totals = {}
    counts = {}
    libs = {}

    def add(k, rss):
        totals[k] = totals.get(k, 0) + rss
        counts[k] = counts.get(k, 0) + 1

    for i, m in enumerate(maps):
        path, rss = m["path"], m["rss"]
        prev = maps[i - 1] if i > 0 else None
        if path == exe or path.startswith(exe + " "):
            add("binary", rss)
        elif path.startswith("/"):
            add("shared libs", rss)
            name = os.path.basename(path)
            libs[name] = libs.get(name, 0) + rss
        elif path == "[heap]":
            add("main heap", rss)
        elif path == "[stack]":
            add("main stack", rss)
        elif path.startswith("["):
            add("vdso/vvar", rss)
        elif m["perms"].startswith("---"):
            add("guard/reserved", rss)
        elif (
            prev
            and prev["perms"].startswith("---")
            and prev["end"] == m["start"]
            and prev["end"] - prev["start"] <= 64 * 1024
        ):
            add("thread stacks", rss)
        elif m["start"] % ARENA == 0 or (
            prev and prev["end"] == m["start"] and prev["start"] // ARENA == m["start"] // ARENA
            and prev["start"] % ARENA == 0
        ):
            add("malloc arenas", rss)
        else:
            add("other anon", rss)
    total = sum(totals.values())
    threads = len(os.listdir(f"/proc/{pid}/task"))
    names = sorted(
        open(f"/proc/{pid}/task/{t}/comm").read().strip() for t in os.listdir(f"/proc/{pid}/task")
    )
    print(f"| class | RSS KiB | mappings |")
    print("|---|---:|---:|")
    for k in sorted(totals, key=lambda k: -totals[k]):
        if totals[k] or k in ("malloc arenas", "thread stacks"):
            print(f"| {k} | {totals[k]} | {counts[k]} |")
    print(f"| **total** | **{total}** | {len(maps)} |")
    roll = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                roll[parts[0].rstrip(":")] = int(parts[1])
    print(
        "smaps_rollup (KiB): Rss {Rss}, Pss {Pss}, Shared_Clean {Shared_Clean}, "
        "Private_Clean {Private_Clean}, Private_Dirty {Private_Dirty}, Anonymous {Anonymous}".format(**roll)
    )
    top = sorted(libs.items(), key=lambda kv: -kv[1])[:6]
    print("largest shared libs (KiB): " + ", ".join(f"{n} {k}" for n, k in top))
    print(f"threads ({threads}): {', '.join(names)}")


if __name__ == "__main__":
    main()
