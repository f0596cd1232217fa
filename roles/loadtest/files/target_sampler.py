#!/usr/bin/env python3
"""Every second: the cgroup counters of a compose project's API containers, appended to a CSV.

Columns ts,container,cpu_usage_ns,nr_periods,nr_throttled,throttled_ns,mem_bytes,mem_limit_bytes,
cpu_limit. Counters are cumulative (the report takes differences over a step's window); mem_bytes is
usage less inactive file cache, as `docker stats` shows. cgroup v1 and v2; the cgroup of a container
is read from /proc/<its pid>/cgroup, so the cgroup driver does not matter. Stdlib only.
"""
import argparse
import json
import os
import subprocess
import time

CGROUP_ROOT = "/sys/fs/cgroup"


def read_keyed(path):
    values = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(" ")
            if value.strip().lstrip("-").isdigit():
                values[key] = int(value)
    return values


def read_int(path):
    with open(path, encoding="ascii") as handle:
        text = handle.read().strip()
    return None if text == "max" else int(text)


def cgroup_mounts():
    """{controller: mount point} of the cgroup v1 hierarchies, and 'unified' for v2."""
    mounts = {}
    with open("/proc/mounts", encoding="ascii") as handle:
        for line in handle:
            _, point, kind, options = line.split()[:4]
            if kind == "cgroup2":
                mounts.setdefault("unified", point)
            elif kind == "cgroup":
                for option in options.split(","):
                    mounts.setdefault(option, point)
    return mounts


def cgroup_dirs(pid, mounts):
    """{'cpu', 'cpuacct', 'memory': folder, 'v2': bool} of a process's cgroups."""
    paths = {}
    with open(f"/proc/{pid}/cgroup", encoding="ascii") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in (controllers or "unified").split(","):
                paths[controller] = path
    if all(name in paths and name in mounts for name in ("cpu", "cpuacct", "memory")):
        return {name: mounts[name] + paths[name] for name in ("cpu", "cpuacct", "memory")} | {"v2": False}
    folder = mounts.get("unified", CGROUP_ROOT) + paths.get("unified", "/")
    return {"cpu": folder, "cpuacct": folder, "memory": folder, "v2": True}


def sample(dirs):
    """(cpu_usage_ns, nr_periods, nr_throttled, throttled_ns, mem_bytes) of one cgroup."""
    cpu = read_keyed(os.path.join(dirs["cpu"], "cpu.stat"))
    mem_stat = read_keyed(os.path.join(dirs["memory"], "memory.stat"))
    if dirs["v2"]:
        usage = read_int(os.path.join(dirs["memory"], "memory.current"))
        return (cpu["usage_usec"] * 1000, cpu.get("nr_periods", 0), cpu.get("nr_throttled", 0),
                cpu.get("throttled_usec", 0) * 1000, usage - mem_stat.get("inactive_file", 0))
    usage = read_int(os.path.join(dirs["memory"], "memory.usage_in_bytes"))
    return (read_int(os.path.join(dirs["cpuacct"], "cpuacct.usage")), cpu.get("nr_periods", 0),
            cpu.get("nr_throttled", 0), cpu.get("throttled_time", 0),
            usage - mem_stat.get("total_inactive_file", 0))


def containers(project, role):
    ids = subprocess.run(
        ["docker", "ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}",
         "--filter", f"label=io.rightsize.role={role}"],
        check=True, capture_output=True, text=True, timeout=20).stdout.split()
    if not ids:
        return []
    inspected = json.loads(subprocess.run(["docker", "inspect", *ids], check=True, capture_output=True,
                                          text=True, timeout=20).stdout)
    found, mounts = [], cgroup_mounts()
    for item in inspected:
        pid = item["State"].get("Pid") or 0
        if pid <= 0:
            continue
        try:
            dirs = cgroup_dirs(pid, mounts)
        except FileNotFoundError:
            continue
        host_config = item["HostConfig"]
        found.append({"name": item["Name"].lstrip("/"), "dirs": dirs,
                      "mem_limit": host_config.get("Memory") or 0,
                      "cpu_limit": (host_config.get("NanoCpus") or 0) / 1e9})
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", required=True)
    parser.add_argument("--role", default="api")
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--refresh", type=float, default=5.0, help="seconds between container look-ups")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "a", encoding="ascii") as out:
        if out.tell() == 0:
            out.write("ts,container,cpu_usage_ns,nr_periods,nr_throttled,throttled_ns,mem_bytes,"
                      "mem_limit_bytes,cpu_limit\n")
        found, refreshed, next_at = [], 0.0, time.time()
        while True:
            now = time.time()
            if now - refreshed >= args.refresh:
                try:
                    found, refreshed = containers(args.project, args.role), now
                except (subprocess.SubprocessError, OSError, ValueError):
                    pass
            rows = []
            for item in found:
                try:
                    figures = sample(item["dirs"])
                except (FileNotFoundError, KeyError, TypeError, ValueError):
                    refreshed = 0.0  # restarted or gone: look again next second
                    continue
                rows.append(",".join([f"{now:.3f}", item["name"], *map(str, figures),
                                      str(item["mem_limit"]), f"{item['cpu_limit']:g}"]))
            if rows:
                out.write("\n".join(rows) + "\n")
                out.flush()
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.time()))


if __name__ == "__main__":
    main()
