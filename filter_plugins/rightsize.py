"""Pure helpers behind the playbooks: variant names, docker sizes and the preflight checks.

Kept free of Ansible imports except for the FilterModule shim at the end, so the unit tests can call
them directly and collect/ can share the naming rule.
"""
import hashlib
import importlib.util
import json
import math
import os
import re

MIB = 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNIT = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB, "t": 1024 * 1024 * MIB}
PROFILE_KEYS = ("users", "users_step", "step_duration")


def docker_bytes(size):
    """Bytes of a docker memory size (512M, 1g, 1.5G, 268435456); ValueError when it is not one."""
    match = _SIZE.match(str(size))
    if not match:
        raise ValueError(f"{size!r} is not a docker memory size (e.g. 256M, 1G, 1.5g)")
    number, unit = match.groups()
    value = int(math.ceil(float(number) * _UNIT[unit.lower()]))
    if value <= 0:
        raise ValueError(f"{size!r} is not a positive memory size")
    return value


def cpu_text(cpu):
    """The shortest decimal of a CPU count: 0.25, 0.5, 1, 2."""
    value = float(cpu)
    return f"{value:.6f}".rstrip("0").rstrip(".")


def variant_name(cpu, mem, replicas):
    """c<cpu>-m<MiB rounded up>M-r<replicas>: one name per variant however it was spelt."""
    mib = int(math.ceil(docker_bytes(mem) / MIB))
    return f"c{cpu_text(cpu)}-m{mib}M-r{int(replicas)}"


def compose_project(name):
    """A compose project name for a variant (lowercase, no dots)."""
    return "rightsize-" + name.lower().replace(".", "_")


def _number(value):
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def _integer(value):
    if isinstance(value, bool):
        raise ValueError
    number = float(value)
    if number != int(number):
        raise ValueError
    return int(number)


def variant_errors(cpu, mem, replicas, source="extra-vars"):
    """Messages naming each bad variable of one variant; empty when it is fine."""
    errors = []
    try:
        if _number(cpu) <= 0:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"cpu={cpu!r} ({source}): expected a number of CPUs > 0, e.g. 0.25, 0.5, 1.0")
    try:
        docker_bytes(mem)
    except ValueError:
        errors.append(f"mem={mem!r} ({source}): expected a docker memory size > 0, e.g. 256M, 512M, 1G, 1.5g")
    try:
        if _integer(replicas) < 1:
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
            checked[name] = _integer(value)
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
        reps = _integer(item.get("replicas", 1))
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


def search_replicas(text, default=1):
    """The replica counts of search_replicas ("1,2,3"); [default] when empty."""
    text = str(text or "").strip()
    if not text:
        return [int(default)]
    return [_integer(part) for part in text.split(",")]


def search_errors(hostvars):
    """Problems with the search variables (only when search=true)."""
    if str(hostvars.get("search", False)).lower() not in ("true", "yes", "1"):
        return []
    errors = []
    if hostvars.get("cpu") not in (None, "") or hostvars.get("mem") not in (None, ""):
        errors.append("cpu/mem: search=true finds them itself; drop -e cpu=... mem=...")
    for name in ("search_cpu_min", "search_resolution"):
        try:
            if _number(hostvars.get(name)) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(f"{name}={hostvars.get(name)!r}: expected a number of CPUs > 0")
    if hostvars.get("search_cpu_max") not in (None, ""):
        try:
            if _number(hostvars["search_cpu_max"]) < _number(hostvars.get("search_cpu_min")):
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
            if not low <= _integer(hostvars.get(name)) <= high:
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
        if not 1 <= _integer(hostvars.get("api_port", 8000)) <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"api_port={hostvars.get('api_port')!r}: expected a port number 1-65535")
    for name in ("api_health_path", "api_predict_path"):
        if not str(hostvars.get(name, "/")).startswith("/"):
            errors.append(f"{name}={hostvars.get(name)!r}: expected a path starting with /")
    if str(hostvars.get("api_proxy", "auto")) not in ("auto", "always"):
        errors.append(f"api_proxy={hostvars.get('api_proxy')!r}: expected auto (nginx when replicas > 1) or always")
    try:
        if _integer(hostvars.get("api_proxy_max_in_flight", 0)) < 0:
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


def _load_steps():
    """locust/steps.py, the schedule the step shape runs: one definition for Locust and the plays."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "locust", "steps.py")
    spec = importlib.util.spec_from_file_location("rightsize_steps", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_STEPS = _load_steps()


def steps_planned(users, users_step):
    """The user count of each step: +users_step up to users."""
    return _STEPS.step_users(int(users), int(users_step))


def container_summary(inspect):
    """The figures of a `docker inspect` that decide a variant: OOM kills and restarts."""
    state = inspect.get("State") or {}
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    return {
        "name": (inspect.get("Name") or "").lstrip("/"),
        "id": inspect.get("Id"),
        "service": labels.get("com.docker.compose.service"),
        "oom_killed": bool(state.get("OOMKilled")),
        "restart_count": int(inspect.get("RestartCount") or 0),
        "status": state.get("Status"),
        "exit_code": state.get("ExitCode"),
        "started_at": state.get("StartedAt"),
    }


def missing_worker_hosts(loadgen_hosts, hostvars, seen_hostnames):
    """Loadgen hosts none of whose workers connected (Locust names workers <hostname>_<uuid>)."""
    seen = set(seen_hostnames or [])
    missing = []
    for host in loadgen_hosts:
        facts = (hostvars.get(host) or {}).get("ansible_facts") or {}
        names = {host, facts.get("hostname"), facts.get("nodename"), facts.get("fqdn")}
        if not names & seen:
            missing.append(host)
    return missing


def host_facts(hostvars_of_host, groups):
    """The facts of a host that the run manifest records."""
    facts = hostvars_of_host.get("ansible_facts") or {}
    name = hostvars_of_host.get("inventory_hostname")
    return {
        "groups": sorted(group for group in ("target", "loadgen", "locust_master") if name in groups.get(group, [])),
        "address": hostvars_of_host.get("ansible_host", name),
        "cores": facts.get("processor_vcpus"),
        "mem_mb": facts.get("memtotal_mb"),
        "kernel": facts.get("kernel"),
        "distribution": f"{facts.get('distribution', '')} {facts.get('distribution_version', '')}".strip(),
        "hostname": facts.get("hostname"),
    }


PAYLOADS_MAX_BYTES = 64 * MIB


def payload_errors(path, max_bytes=PAYLOADS_MAX_BYTES):
    """Problems with an api_payloads file (JSON lines), naming the file and the first bad line."""
    if not path:
        return []
    if not os.path.isfile(path):
        return [f"api_payloads={path}: no such file on the controller"]
    size = os.path.getsize(path)
    if size > max_bytes:
        return [f"api_payloads={path}: {size} bytes, above the {max_bytes} byte limit (Locust loads it whole)"]
    lines = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                return [f"api_payloads={path}: line {number} is not a JSON value ({error.msg})"]
            lines += 1
    if lines == 0:
        return [f"api_payloads={path}: the file holds no request body (one JSON value per line)"]
    return []


def payload_info(path):
    """What a run records of its payloads file: name, body count and sha256."""
    if not path:
        return {"name": None, "lines": None, "sha256": None, "source": "generated Covertype rows"}
    with open(path, "rb") as handle:
        data = handle.read()
    lines = sum(1 for line in data.splitlines() if line.strip())
    return {"name": os.path.basename(path), "lines": lines, "sha256": hashlib.sha256(data).hexdigest(),
            "source": os.path.abspath(path)}


def probe_body(path):
    """The body sent once before the load: the file's first line, or a typical Covertype row."""
    if path:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return json.loads(line)
    return {"elevation": 2500, "aspect": 180, "slope": 15, "horizontal_distance_to_hydrology": 200,
            "vertical_distance_to_hydrology": 50, "horizontal_distance_to_roadways": 1000,
            "hillshade_9am": 200, "hillshade_noon": 230, "hillshade_3pm": 150,
            "horizontal_distance_to_fire_points": 800, "wilderness_area": 1, "soil_type": 10}


def expected_workers(loadgen_hostvars, per_host):
    """Locust workers of a run: per_host on every loadgen host, or (0) one per core of each."""
    per_host = int(per_host)
    if per_host > 0:
        return per_host * len(loadgen_hostvars)
    return sum(int((host.get("ansible_facts") or {}).get("processor_vcpus") or 1) for host in loadgen_hostvars)


def loosened_hardening(user, read_only, tmpfs):
    """What a run loosened of the default container hardening, for the report."""
    loosened = []
    if str(user).strip() == "":
        loosened.append("runs as the image's own user (api_user empty)")
    if str(read_only).lower() in ("false", "no", "0"):
        loosened.append("writable root filesystem (api_read_only=false)")
    if list(tmpfs or []) != ["/tmp"]:
        loosened.append(f"tmpfs mounts {list(tmpfs or [])} instead of ['/tmp']")
    return loosened


class FilterModule:
    def filters(self):
        return {
            "rs_docker_bytes": docker_bytes,
            "rs_variant_name": variant_name,
            "rs_plan_variants": plan_variants,
            "rs_preflight_errors": preflight_errors,
            "rs_steps_planned": steps_planned,
            "rs_container_summary": container_summary,
            "rs_missing_worker_hosts": missing_worker_hosts,
            "rs_host_facts": host_facts,
            "rs_payload_errors": payload_errors,
            "rs_payload_info": payload_info,
            "rs_probe_body": probe_body,
            "rs_loosened_hardening": loosened_hardening,
            "rs_search_replicas": search_replicas,
            "rs_expected_workers": expected_workers,
        }
