"""The preflight checks: every problem with the public variables, as messages naming the variable.

Each function returns a list of messages, empty when the values are fine; nothing is deployed
while one is not empty (roles/preflight).
"""
import re

from rightsize.names import docker_bytes
from rightsize.payloads import payload_errors
from rightsize.values import number, search_replicas, whole_number


def variant_errors(cpu, mem, replicas, source="extra-vars"):
    """Messages naming each bad variable of one variant; empty when it is fine."""
    errors = []
    try:
        if number(cpu) <= 0:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"cpu={cpu!r} ({source}): expected a number of CPUs > 0, e.g. 0.25, 0.5, 1.0")
    try:
        docker_bytes(mem)
    except ValueError:
        errors.append(f"mem={mem!r} ({source}): expected a docker memory size > 0, e.g. 256M, 512M, 1G, 1.5g")
    try:
        if whole_number(replicas) < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"replicas={replicas!r} ({source}): expected a whole number >= 1")
    return errors


def load_errors(users, users_step, step_duration, warmup_s):
    """Messages naming each bad load variable; empty when they are fine."""
    errors = []
    checked = {}
    for name, value in (("users", users), ("users_step", users_step), ("step_duration", step_duration)):
        try:
            checked[name] = whole_number(value)
            if checked[name] < 1:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"{name}={value!r}: expected a whole number >= 1")
            checked.pop(name, None)
    if "users" in checked and "users_step" in checked and checked["users_step"] > checked["users"]:
        errors.append(f"users_step={users_step} is larger than users={users}: expected 1 <= users_step <= users")
    if "step_duration" in checked and checked["step_duration"] <= float(warmup_s):
        errors.append(
            f"step_duration={step_duration!r}: expected more seconds than the warm-up "
            f"report_warmup_s={warmup_s!r}, or nothing of the step is measured"
        )
    return errors


def search_errors(hostvars):
    """Problems with the search variables (only when search=true)."""
    if str(hostvars.get("search", False)).lower() not in ("true", "yes", "1"):
        return []
    errors = []
    if hostvars.get("cpu") not in (None, "") or hostvars.get("mem") not in (None, ""):
        errors.append("cpu/mem: search=true finds them itself; drop -e cpu=... mem=...")
    for name in ("search_cpu_min", "search_resolution"):
        try:
            if number(hostvars.get(name)) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"{name}={hostvars.get(name)!r}: expected a number of CPUs > 0")
    if hostvars.get("search_cpu_max") not in (None, ""):
        try:
            if number(hostvars["search_cpu_max"]) < number(hostvars.get("search_cpu_min")):
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"search_cpu_max={hostvars.get('search_cpu_max')!r}: expected a number >= search_cpu_min")
    for name in ("search_probe_mem", "search_mem_round"):
        try:
            docker_bytes(hostvars.get(name))
        except ValueError:
            errors.append(f"{name}={hostvars.get(name)!r}: expected a docker memory size, e.g. 2G, 64M")
    for name, low, high in (("search_max_probes", 1, 100), ("search_mem_target_pct", 1, 99)):
        try:
            if not low <= whole_number(hostvars.get(name)) <= high:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"{name}={hostvars.get(name)!r}: expected a whole number {low}-{high}")
    try:
        if any(count < 1 for count in search_replicas(hostvars.get("search_replicas"))):
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"search_replicas={hostvars.get('search_replicas')!r}: expected whole numbers >= 1, e.g. 1,2,3")
    return errors


def preflight_errors(hostvars):
    """Every problem with the public variables, as messages that name the variable."""
    errors = []
    profiles = hostvars.get("profiles") or {}
    profile = hostvars.get("profile")
    if profile not in profiles:
        errors.append(f"profile={profile!r}: expected one of {', '.join(sorted(profiles))}")
        return errors
    explicit = hostvars.get("cpu") not in (None, "") or hostvars.get("mem") not in (None, "")
    searching = str(hostvars.get("search", False)).lower() in ("true", "yes", "1")
    if searching:
        pass
    elif explicit:
        if hostvars.get("cpu") in (None, "") or hostvars.get("mem") in (None, ""):
            errors.append("cpu and mem: give both (e.g. -e 'cpu=0.5 mem=512M') or neither (run the variants list)")
        else:
            errors += variant_errors(hostvars["cpu"], hostvars["mem"], hostvars.get("replicas", 1))
    else:
        for index, item in enumerate(hostvars.get("variants") or []):
            if not isinstance(item, dict) or "cpu" not in item or "mem" not in item:
                errors.append(f"variants[{index}]={item!r}: expected a mapping with cpu, mem and replicas")
                continue
            errors += variant_errors(item["cpu"], item["mem"], item.get("replicas", 1), f"variants[{index}]")
        if not hostvars.get("variants"):
            errors.append("variants: the list is empty; give cpu and mem, or list variants in group_vars")
    errors += load_errors(
        hostvars.get("users"), hostvars.get("users_step"), hostvars.get("step_duration"),
        hostvars.get("report_warmup_s", 10),
    )
    for name in ("keep", "fail_on_slo", "locust_ui"):
        if str(hostvars.get(name, False)).lower() not in ("true", "false", "yes", "no", "1", "0"):
            errors.append(f"{name}={hostvars.get(name)!r}: expected true or false")
    if str(hostvars.get("offline_images", "auto")).lower() not in ("auto", "true", "false", "yes", "no"):
        errors.append(f"offline_images={hostvars.get('offline_images')!r}: expected auto, true or false")
    errors += search_errors(hostvars)
    errors += payload_errors(hostvars.get("api_payloads") or "")
    try:
        if not 1 <= whole_number(hostvars.get("api_port", 8000)) <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"api_port={hostvars.get('api_port')!r}: expected a port number 1-65535")
    for name in ("api_health_path", "api_predict_path"):
        if not str(hostvars.get(name, "/")).startswith("/"):
            errors.append(f"{name}={hostvars.get(name)!r}: expected a path starting with /")
    if str(hostvars.get("api_proxy", "auto")) not in ("auto", "always"):
        errors.append(f"api_proxy={hostvars.get('api_proxy')!r}: expected auto (nginx when replicas > 1) or always")
    try:
        if whole_number(hostvars.get("api_proxy_max_in_flight", 0)) < 0:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"api_proxy_max_in_flight={hostvars.get('api_proxy_max_in_flight')!r}: "
                      "expected a whole number >= 0 (0 = no bound)")
    if not isinstance(hostvars.get("api_env", {}), dict):
        errors.append(f"api_env={hostvars.get('api_env')!r}: expected a mapping of environment variables")
    if not isinstance(hostvars.get("api_tmpfs", []), list):
        errors.append(f"api_tmpfs={hostvars.get('api_tmpfs')!r}: expected a list of paths")
    run_id = str(hostvars.get("run_id", ""))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", run_id):
        errors.append(f"run_id={run_id!r}: expected letters, digits, '.', '_' or '-' (a folder name)")
    return errors
