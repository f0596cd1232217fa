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
import threading
import time
import urllib.error
import urllib.request

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


def cgroup_mounts(proc="/proc"):
    """{controller: mount point} of the cgroup v1 hierarchies, and 'unified' for v2."""
    mounts = {}
    with open(f"{proc}/mounts", encoding="ascii") as handle:
        for line in handle:
            _, point, kind, options = line.split()[:4]
            if kind == "cgroup2":
                mounts.setdefault("unified", point)
            elif kind == "cgroup":
                for option in options.split(","):
                    mounts.setdefault(option, point)
    return mounts


def cgroup_dirs(pid, mounts, proc="/proc"):
    """{'cpu', 'cpuacct', 'memory': folder, 'v2': bool} of a process's cgroups."""
    paths = {}
    with open(f"{proc}/{pid}/cgroup", encoding="ascii") as handle:
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
        networks = (item.get("NetworkSettings") or {}).get("Networks") or {}
        address = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), None)
        found.append({"name": item["Name"].lstrip("/"), "dirs": dirs, "address": address,
                      "mem_limit": host_config.get("Memory") or 0,
                      "cpu_limit": (host_config.get("NanoCpus") or 0) / 1e9})
    return found


def probe(url, timeout):
    """(ok, status, ms) of one GET: ok when it answered 2xx within the timeout; status 0 when no
    HTTP answer came (refused, reset, timed out)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (http to our own hosts)
            answer.read(65536)
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, ValueError):
        status = 0
    return 200 <= status < 300, status, (time.monotonic() - started) * 1000


class HealthProber:
    """Every interval: the health path of each API container at its own address, and of the entry."""

    def __init__(self, path, port, entry_url, out, interval=1.0, timeout=0.9):
        self.path, self.port, self.entry_url = path, port, entry_url
        self.interval, self.timeout = interval, timeout
        self.targets = []
        self.lock = threading.Lock()
        self.out = open(out, "a", encoding="ascii")
        if self.out.tell() == 0:
            self.out.write("ts,probe,ok,status,ms\n")
            self.out.flush()

    def set_containers(self, found):
        with self.lock:
            self.targets = [(item["name"], f"http://{item['address']}:{self.port}{self.path}")
                            for item in found if item.get("address")]

    def round(self):
        with self.lock:
            targets = list(self.targets)
        if self.entry_url:
            targets.append(("entry", self.entry_url.rstrip("/") + self.path))
        results = {}

        def one(name, url):
            results[name] = probe(url, self.timeout)

        now = time.time()
        threads = [threading.Thread(target=one, args=target, daemon=True) for target in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.timeout + 0.5)
        rows = [f"{now:.3f},{name},{int(ok)},{status},{ms:.1f}"
                for name, (ok, status, ms) in sorted(results.items())]
        if rows:
            self.out.write("\n".join(rows) + "\n")
            self.out.flush()

    def run(self):
        next_at = time.time()
        while True:
            self.round()
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.time()))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", required=True)
    parser.add_argument("--role", default="api")
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--refresh", type=float, default=5.0, help="seconds between container look-ups")
    parser.add_argument("--health-path", default="", help="probe this path on every container and the entry")
    parser.add_argument("--port", type=int, default=8000, help="the API's port inside its container")
    parser.add_argument("--entry-url", default="", help="the entry point Locust loads, e.g. http://127.0.0.1:8000")
    parser.add_argument("--health-out", default="", help="CSV of the probes (default: health.csv beside --out)")
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    prober = None
    if args.health_path:
        prober = HealthProber(args.health_path, args.port, args.entry_url,
                              args.health_out or os.path.join(os.path.dirname(args.out), "health.csv"))
        threading.Thread(target=prober.run, daemon=True).start()
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
                    if prober:
                        prober.set_containers(found)
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
