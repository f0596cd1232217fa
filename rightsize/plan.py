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
