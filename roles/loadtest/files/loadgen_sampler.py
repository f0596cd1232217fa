#!/usr/bin/env python3
"""Every second: this host's busy CPU time and each Locust process's, appended to a CSV.

Columns ts,host,pid,role,cpu_s,ncpu. role `host` (pid 0) is the busy time of all cores together;
`master`/`worker` are the Locust processes that wrote their PID into the pids folder. Stdlib only.
"""
import argparse
import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def host_busy_seconds(proc="/proc"):
    with open(f"{proc}/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICK


def process_seconds(pid, proc="/proc"):
    with open(f"{proc}/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def locust_pids(folder):
    found = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        role, _, rest = name.partition("-")
        if name.endswith(".pid") and role in ("master", "worker"):
            found.append((int(rest[:-4]), role))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--pids-dir", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    ncpu = os.cpu_count()
    with open(args.out, "a", encoding="ascii") as out:
        if out.tell() == 0:
            out.write("ts,host,pid,role,cpu_s,ncpu\n")
        next_at = time.time()
        while True:
            now = time.time()
            rows = [f"{now:.3f},{args.host},0,host,{host_busy_seconds():.2f},{ncpu}"]
            for pid, role in locust_pids(args.pids_dir):
                try:
                    rows.append(f"{now:.3f},{args.host},{pid},{role},{process_seconds(pid):.2f},{ncpu}")
                except (FileNotFoundError, ProcessLookupError, IndexError):
                    continue  # the process has ended
            out.write("\n".join(rows) + "\n")
            out.flush()
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.time()))


if __name__ == "__main__":
    main()
