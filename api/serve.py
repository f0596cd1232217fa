"""Start uvicorn with one worker per CPU the container is allowed to use.

``python -m api`` runs this. API_WORKERS > 0 overrides the count; otherwise it is the CPU quota
of the cgroup rounded up (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``),
capped by the CPUs in the affinity mask (``--cpuset-cpus``), at least 1. Without this, a
container limited to 1 CPU on a 64-core host would start 64 workers fighting for one CPU.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import uvicorn

from api.settings import Settings

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs granted by the cgroup quota, or None when unlimited or unknown."""
    try:  # cgroup v2: "max 100000" or "50000 100000"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota = int((v1 / "cpu.cfs_quota_us").read_text())
            period = int((v1 / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota <= 0 or period <= 0 else quota / period
    return None


def worker_count(settings: Settings, root: Path = CGROUP_ROOT) -> int:
    if settings.workers > 0:
        return settings.workers
    cpus = len(os.sched_getaffinity(0))
    quota = cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota - 1e-9))
    return max(1, cpus)


def main() -> None:
    settings = Settings.from_env()
    workers = worker_count(settings)
    print(f"rightsize inference API: {workers} worker(s) on {settings.host}:{settings.port}", flush=True)
    uvicorn.run(
        "api.main:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=settings.access_log,
        server_header=False,
    )


if __name__ == "__main__":
    main()
