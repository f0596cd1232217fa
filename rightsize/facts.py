"""What the playbooks record of hosts and containers: facts, worker counts, OOM kills, hardening."""


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
