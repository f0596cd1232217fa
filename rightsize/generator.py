"""Preflight's generator check: the Locust processes `users` need, before any load is measured.

The report's capacity model (rightsize/capacity.py, section 6) fits a worker's CPU-seconds per
request from the run's own steps; preflight has no step yet, so it takes the measured default
`generator_cpu_s_per_request` (rightsize/variables.py; measured with `python -m bench.generator`,
docs/generator.md) and the same two rules:

- the users offer RPS = users / (think time + response time), think time (wait_min + wait_max) / 2,
  with a fast service's response time, PREFLIGHT_RESPONSE_S;
- they need processes = ceil(RPS x cpu_s_per_request / (generator_cpu_pct_max / 100)), at least
  one,

against the loadgen hosts' cores, less the target's planned CPU where the target is also a loadgen
host. Stdlib only: the filter plugins import this module on every task that templates a filter,
and capacity.py brings numpy, pandas and scipy (over a second to import). The two rules are written
here once; capacity.py imports them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

PREFLIGHT_RESPONSE_S = 0.01  # the response time preflight assumes for the users' offered RPS


def offered_rps(users: float, think_time_s: float, response_s: float = PREFLIGHT_RESPONSE_S) -> float:
    """Interactive response time law: N users that wait Z and are answered in R send N / (Z + R)."""
    return users / (think_time_s + response_s)


def processes_for(rps: float, cpu_s_per_request: float, cpu_pct_max: float, idle_cores: float = 0.0) -> int | None:
    """Locust processes that send rps with each under cpu_pct_max % of one core, a process's own idle
    work (idle_cores) taken off that room; at least one; None when the idle work alone fills it."""
    room = cpu_pct_max / 100 - idle_cores
    if room <= 0:
        return None
    return max(1, math.ceil(cpu_s_per_request * rps / room - 1e-9))


@dataclass(frozen=True)
class GeneratorNeed:
    """What `users` ask of the Locust processes, and what the loadgen hosts have for them."""
    users: int
    rps: float                    # offered by the users
    processes: int                # each under the generator's CPU limit
    loadgen_cores: float          # summed over the loadgen hosts
    target_cpu: float = 0.0       # taken off them: the target's planned CPU where it shares a loadgen host
    workers: int | None = None    # Locust workers the run starts (None: not known)

    @property
    def cores(self) -> float:
        """The loadgen cores left for Locust."""
        return max(0.0, self.loadgen_cores - self.target_cpu)

    @property
    def enough_cores(self) -> bool:
        return self.processes <= self.cores + 1e-9

    @property
    def enough_workers(self) -> bool:
        return self.workers is None or self.processes <= self.workers


def generator_need(users: int, think_time_s: float, cpu_s_per_request: float, cpu_pct_max: float,
                   loadgen_cores: float, target_cpu: float = 0.0, workers: int | None = None,
                   response_s: float = PREFLIGHT_RESPONSE_S) -> GeneratorNeed:
    """The offered RPS of `users` and the processes it takes, against the loadgen cores."""
    rps = offered_rps(users, think_time_s, response_s)
    return GeneratorNeed(users=int(users), rps=rps, processes=processes_for(rps, cpu_s_per_request, cpu_pct_max),
                         loadgen_cores=float(loadgen_cores), target_cpu=float(target_cpu), workers=workers)


def _cores(n: float) -> str:
    return f"{n:g} core" + ("" if n == 1 else "s")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def generator_warning(need: GeneratorNeed, cpu_pct_max: float) -> str:
    """The plan's warning when the loadgen hosts (or the workers started on them) are too few for
    the users; "" when they suffice."""
    head = (f"WARNING: {need.users:,} users ~ {need.rps:,.0f} RPS need ~{_count(need.processes, 'Locust process')} "
            f"at <= {cpu_pct_max:g} % of a core")
    if not need.enough_cores:
        have = f"the loadgen hosts have {_cores(need.loadgen_cores)}"
        if need.target_cpu > 0:
            cpus = f"{need.target_cpu:g} CPU" + ("" if need.target_cpu == 1 else "s")
            have += f", {need.cores:g} beside the target's {cpus} planned on them"
        return f"{head}; {have}: add loadgen hosts or expect invalid steps"
    if not need.enough_workers:
        return (f"{head}; the run starts {_count(need.workers, 'Locust worker')} (locust_workers_per_host): "
                "raise it or expect invalid steps")
    return ""


def planned_target_cpu(plan: Sequence[dict] = (), search: dict | None = None) -> float:
    """The most CPU the target may use in a run: the largest cpu x replicas of the planned variants
    (skipped ones left out) or, for a search, of the top of its CPU grid for each replica count
    (search_cpu_max, else the target's cores / replicas)."""
    if search:
        cores = float(search.get("cores") or 0)
        cpu_max = search.get("cpu_max")
        return max((float(cpu_max) * int(r) if cpu_max not in (None, "") else cores)
                   for r in search.get("replicas") or [1])
    return max((float(v["cpu"]) * int(v.get("replicas", 1)) for v in plan if not v.get("skip")), default=0.0)


def preflight_warning(settings: dict, groups: dict, hostvars: dict, plan: Sequence[dict] = (),
                      search: dict | None = None, workers=None) -> str:
    """generator_warning of a run (the filter rs_generator_warning): settings are the public
    variables after -e (users, locust_wait_*, generator_cpu_pct_max, generator_cpu_s_per_request),
    the cores every loadgen host's processor_vcpus, the target's planned CPU taken off where the
    target is also a loadgen host; plan/search preflight's; workers the Locust workers it starts."""
    loadgen = groups.get("loadgen", [])
    cores = sum(int((hostvars[h].get("ansible_facts") or {}).get("processor_vcpus") or 1) for h in loadgen)
    shared = bool(set(groups.get("target", [])) & set(loadgen))
    think = (float(settings["locust_wait_min"]) + float(settings["locust_wait_max"])) / 2
    pct_max = float(settings["generator_cpu_pct_max"])
    need = generator_need(int(float(settings["users"])), think, float(settings["generator_cpu_s_per_request"]),
                          pct_max, cores, planned_target_cpu(plan, search) if shared else 0.0,
                          workers=int(float(workers)) if workers not in (None, "") else None)
    return generator_warning(need, pct_max)
