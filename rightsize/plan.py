"""What a run will do: the variants it runs (each with its name) and the steps of each."""
from rightsize.names import compose_project, cpu_text, docker_bytes, variant_name
from rightsize.steps import step_users
from rightsize.values import whole_number


def plan_variants(variants, cpu=None, mem=None, replicas=1, cores=None):
    """The variants to run: the one asked for (cpu and mem given) or the list, each with its name.

    A listed variant whose cpu x replicas exceeds the target's cores is kept with a skip reason;
    an explicit one is returned with the reason too, and preflight refuses it.
    """
    explicit = cpu not in (None, "") or mem not in (None, "")
    chosen = [{"cpu": cpu, "mem": mem, "replicas": replicas}] if explicit else list(variants or [])
    plan = []
    for item in chosen:
        cpu_value = float(item["cpu"])
        reps = whole_number(item.get("replicas", 1))
        name = variant_name(cpu_value, item["mem"], reps)
        entry = {
            "name": name,
            "cpu": cpu_value,
            "cpu_text": cpu_text(cpu_value),
            "mem": str(item["mem"]),
            "mem_bytes": docker_bytes(item["mem"]),
            "replicas": reps,
            "project": compose_project(name),
            "explicit": explicit,
            "skip": "",
        }
        if cores is not None and cpu_value * reps > float(cores):
            entry["skip"] = (
                f"cpu x replicas = {cpu_text(cpu_value * reps)} exceeds the target's {int(cores)} cores"
            )
        plan.append(entry)
    return plan


def steps_planned(users, users_step):
    """The user count of each step: +users_step up to users."""
    return step_users(int(users), int(users_step))


# Seconds a variant spends around its load on the local default (deploy, health gate, probe,
# samplers, workers connecting; then stop, inspect, fetch, remove, record): 26 s measured for a smoke
# variant (`python -m bench.overhead`, docs/load-path.md has the run); rounded up for the plan.
RUN_OVERHEAD_S = 30


def expected_seconds(variants: int, users, users_step, step_duration, overhead_s: float = RUN_OVERHEAD_S) -> float:
    """Wall time a sweep of `variants` variants is expected to take: each climbs every step, plus
    the time around its load."""
    steps = len(step_users(int(users), int(users_step)))
    return int(variants) * (steps * float(step_duration) + overhead_s)


def duration_text(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def expected_text(variants: int, users, users_step, step_duration, repeats=1) -> str:
    """The plan's line: how long the run is expected to take, and from what (each variant runs
    `repeats` times)."""
    steps = len(step_users(int(users), int(users_step)))
    runs = int(variants) * int(repeats)
    total = expected_seconds(runs, users, users_step, step_duration)
    what = f"{int(variants)} variant(s)" + (f" x {int(repeats)} repeats" if int(repeats) > 1 else "")
    return (f"expected about {duration_text(total)} ({what} x ({steps} steps x "
            f"{int(float(step_duration))} s + ~{RUN_OVERHEAD_S} s around each))")
