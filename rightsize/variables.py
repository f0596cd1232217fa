"""The public variables: each one's default, type, bounds and meaning, in one table.

A public variable is what a user sets with `-e` (cpu, mem, users, slo_p95_ms_max, ...). This table
is the only place its default, kind, bounds and one-line meaning are written; the rest reads it:

- `group_vars/all.yml` is generated from it (`python -m rightsize.variables --write-group-vars`),
  with the role variables derived from the public ones (inference_api_*, the paths on the hosts);
- `roles/preflight/meta/argument_specs.yml` is generated from it (`--write-argument-specs`);
- the preflight checks (rightsize/checks.py) take each variable's bounds and wording from it;
- the report's defaults (collect/settings.py) and run.json's `vars` (rightsize/records.py) too;
- the README's variables tables are tested against it (tests/unit/test_variables.py).

`python -m rightsize.variables --check` exits 1 when a generated file is out of date.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Kinds: what a value must be. The checks (rightsize/checks.py) dispatch on these.
NUMBER = "number"            # a number (3, 0.5, "0.5" from -e)
WHOLE = "whole"              # a whole number (3, "3", 3.0)
BOOL = "bool"                # true/false/yes/no/1/0
AUTO_BOOL = "auto_bool"      # auto, or a boolean
AUTO_WHOLE = "auto_whole"    # auto, or a whole number
CHOICE = "choice"            # one of `choices`
SIZE = "size"                # a docker memory size: 256M, 1G, 1.5g
URL_PATH = "url_path"        # an HTTP path starting with /
ABS_PATH = "abs_path"        # an absolute file system path
TEXT = "text"                # any text
MAPPING = "mapping"          # a mapping
LIST = "list"                # a list
USERS_LIST = "users_list"    # whole numbers >= 1: a list, one number, or "10000,20000"
REPLICAS_LIST = "replicas_list"  # "1,2,3" (or empty)
FOLDER_NAME = "folder_name"  # letters, digits, '.', '_', '-'
PROFILE = "profile"          # a key of `profiles`
PROFILES = "profiles"        # {name: {users, users_step, step_duration}}
VARIANTS = "variants"        # [{cpu, mem, replicas}]
PAYLOADS = "payloads"        # a JSON-lines file on the controller (rightsize/payloads.py)
REGISTRY = "registry"        # an image registry's host[:port], no scheme (or empty)
HTTP_URL = "http_url"        # http://host[:port][/path] or https://...
MODEL_URI = "model_uri"      # models:/NAME/VERSION or models:/NAME@ALIAS (rightsize/mlflowlog.py)

BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Variable:
    """One public variable. Bounds are inclusive unless exclusive_minimum."""
    name: str
    default: Any               # as group_vars holds it (a Jinja expression for derived defaults)
    kind: str
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple = ()
    optional: bool = False     # "" means "not given" (e.g. search_cpu_max: the target's cores)
    noun: str = ""             # how the expected value is named: "a number of CPUs"
    hint: str = ""             # appended to the expectation: ", e.g. 0.25, 0.5, 1.0"
    shown: str | None = None   # the default as the README shows it, when not the value itself
    group_vars: bool = True    # False: -e only (cpu, mem)
    note: str = ""             # a comment line above it in group_vars
    mirrors: tuple[str, ...] = ()  # role variables that carry its value into a role

    @property
    def accepts(self) -> str:
        """What the variable accepts, as preflight's messages say it."""
        noun = self.noun or {
            NUMBER: "a number", WHOLE: "a whole number", BOOL: "true or false",
            AUTO_BOOL: "auto, true or false", AUTO_WHOLE: "auto or a whole number",
            SIZE: "a docker memory size", URL_PATH: "a path starting with /",
            ABS_PATH: "an absolute path", TEXT: "text", MAPPING: "a mapping", LIST: "a list",
            USERS_LIST: "whole numbers >= 1", REPLICAS_LIST: "whole numbers >= 1",
            FOLDER_NAME: "letters, digits, '.', '_' or '-' (a folder name)",
            REGISTRY: "a registry host[:port] without scheme or path, or empty",
            CHOICE: " or ".join(", ".join(self.choices).rsplit(", ", 1)),
            PROFILE: "a key of profiles", PAYLOADS: "a JSON-lines file on the controller, or empty",
            PROFILES: "a mapping of profiles, each with users, users_step and step_duration",
            VARIANTS: "a list of mappings with cpu, mem and replicas",
        }.get(self.kind, self.kind)
        return f"{noun}{self.bounds}{self.hint}"

    @property
    def bounds(self) -> str:
        low, high = self.minimum, self.maximum
        if low is None and high is None:
            return ""
        if low is not None and high is not None and not self.exclusive_minimum:
            return f" {low:g}-{high:g}"
        parts = []
        if low is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {low:g}")
        if high is not None:
            parts.append(f"<= {high:g}")
        return " " + " and ".join(parts)

    @property
    def templated(self) -> bool:
        return isinstance(self.default, str) and "{{" in self.default

    def readme_default(self) -> str:
        """The default as the README's variables tables show it."""
        if self.shown is not None:
            return self.shown
        value = self.default
        if self.kind == PROFILES:
            return ", ".join(f"{name} {_thousands(p['users'])}/{_thousands(p['users_step'])}/"
                             f"{p['step_duration']} s" for name, p in value.items())
        if self.kind == VARIANTS:
            return ", ".join(("" if int(v.get("replicas", 1)) == 1 else f"{v['replicas']} × ")
                             + f"{v['cpu']}/{v['mem']}" for v in value)
        if self.kind == USERS_LIST:
            return ",".join(str(u) for u in value)
        return value if isinstance(value, str) else flow(value)


@dataclass(frozen=True)
class Section:
    title: str
    variables: tuple[Variable, ...] = ()
    derived: tuple[tuple[str, str, str], ...] = ()   # (name, Jinja expression, comment) after the variables
    note: str = ""


def _thousands(n: int) -> str:
    return f"{n:,}"


CPU_HINT = ", e.g. 0.25, 0.5, 1.0"
MEM_HINT = ", e.g. 256M, 512M, 1G, 1.5g"

# Paths on every host, all under remote_root (installs) or remote_run_root (run files): the role
# variables that hold them, derived in group_vars so that one override moves all of them.
REMOTE_PATHS = (
    ("docker_build_dir", "{{ remote_root }}/build", "docker: build contexts"),
    ("inference_api_build_dir", "{{ remote_root }}/build/api", "inference_api: the API's build context"),
    ("inference_api_deploy_dir", "{{ remote_root }}/deploy", "inference_api: one compose project per variant"),
    ("locust_root", "{{ remote_root }}", "locust: its installs"),
    ("locust_venv", "{{ remote_root }}/locust-venv", "locust: the Locust virtualenv"),
    ("locust_files_dir", "{{ remote_root }}/locust", "locust: the locustfile and its modules"),
    ("loadtest_locust_venv", "{{ remote_root }}/locust-venv", "loadtest: runs Locust from there"),
    ("loadtest_locust_dir", "{{ remote_root }}/locust", "loadtest: the locustfile it runs"),
    ("loadtest_bin_dir", "{{ remote_root }}/bin", "loadtest: samplers, rs-bg, rs-stop"),
    ("loadtest_remote_root", "{{ remote_run_root }}/runs", "loadtest: <run_id>/<variant>/ before the fetch"),
    ("inference_api_docker_config", "{{ remote_run_root }}/docker-config",
     "inference_api: each run's registry login (<run_id>/), removed after the pulls and by teardown"),
    ("mlflow_dir", "{{ remote_root }}/mlflow", "mlflow: the tracking server's build contexts and compose project"),
)

# The cost defaults: AWS Fargate on-demand, Linux/x86, US East (N. Virginia), per vCPU-hour and per
# GB-hour, as published in 2024 (unchanged since the January 2019 price cut). Override with -e.
FARGATE_CPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445
FARGATE_SOURCE = "AWS Fargate on-demand, Linux/x86, us-east-1, as published 2024"

TABLE: tuple[Section, ...] = (
    Section("The SLO: a variant passes at a step when every figure stays under its limit", (
        Variable("slo_failure_rate_max", 0.01, NUMBER, "failed / all requests (0-1)",
                 minimum=0, maximum=1, exclusive_minimum=True),
        Variable("slo_p95_ms_max", 1000, NUMBER, "95th percentile response time, ms",
                 minimum=0, exclusive_minimum=True),
        Variable("slo_cpu_pct_max", 90, NUMBER, "mean CPU of the API containers, % of their limit",
                 minimum=0, maximum=100, exclusive_minimum=True),
        Variable("slo_mem_pct_max", 90, NUMBER, "mean memory of the busiest API container, % of its limit",
                 minimum=0, maximum=100, exclusive_minimum=True),
    )),
    Section("How steps are judged", (
        Variable("report_warmup_s", 10, NUMBER, "first seconds of each step (ramp-up) excluded from its figures",
                 minimum=0),
        Variable("generator_cpu_pct_max", 80, NUMBER, "a Locust process above this % of one core invalidates the step",
                 minimum=0, maximum=100, exclusive_minimum=True),
        Variable("stability_tolerance", 0.1, NUMBER, "RPS sub-windows of a step may differ by this fraction",
                 minimum=0, maximum=1, exclusive_minimum=True),
        Variable("fail_on_slo", False, BOOL, "true: exit non-zero when any variant does not pass at the target users"),
    )),
    Section("Load profiles (as in the seed); explicit users/users_step/step_duration win", (
        Variable("profiles", {
            "smoke": {"users": 200, "users_step": 100, "step_duration": 20},
            "quick": {"users": 500, "users_step": 250, "step_duration": 60},
            "medium": {"users": 2000, "users_step": 500, "step_duration": 60},
            "load": {"users": 5000, "users_step": 500, "step_duration": 60},
            "stress": {"users": 10000, "users_step": 500, "step_duration": 60},
        }, PROFILES, "users / users_step / step_duration of each profile"),
        Variable("profile", "{{ default_profile | default('stress') }}", PROFILE,
                 "the load profile, a key of profiles",
                 note="inventories may set default_profile (inventory/local.yml: quick, target and load share a box)",
                 shown="`stress` (`quick` on the local inventory)"),
        # `| default('')`: an unknown profile leaves them empty, and preflight names the profile
        Variable("users", "{{ profiles[profile].users | default('') }}", WHOLE,
                 "users of the last step (the target users)", minimum=1, shown="from the profile",
                 mirrors=("loadtest_users",)),
        Variable("users_step", "{{ profiles[profile].users_step | default('') }}", WHOLE,
                 "users added each step", minimum=1, shown="from the profile", mirrors=("loadtest_users_step",)),
        Variable("step_duration", "{{ profiles[profile].step_duration | default('') }}", WHOLE,
                 "seconds of each step", minimum=1, shown="from the profile",
                 mirrors=("loadtest_step_duration",)),
    )),
    Section("Variants: the list sweep.yml runs when cpu/mem are not given", (
        Variable("cpu", None, NUMBER, "CPUs per replica of the one variant to run (-e only)", minimum=0,
                 exclusive_minimum=True, noun="a number of CPUs", hint=CPU_HINT, group_vars=False, shown="—",
                 optional=True),
        Variable("mem", None, SIZE, "docker memory size per replica of that variant (-e only)", minimum=0,
                 exclusive_minimum=True, hint=MEM_HINT, group_vars=False, shown="—", optional=True),
        Variable("replicas", 1, WHOLE, "API replicas; > 1 puts nginx in front", minimum=1),
        Variable("variants", [
            {"cpu": 0.25, "mem": "256M", "replicas": 1},
            {"cpu": 0.5, "mem": "512M", "replicas": 1},
            {"cpu": 1.0, "mem": "1G", "replicas": 1},
            {"cpu": 2.0, "mem": "2G", "replicas": 1},
            {"cpu": 0.75, "mem": "768M", "replicas": 3},
        ], VARIANTS, "cpu, mem and replicas of each variant of the list"),
    )),
    Section("Right-sizing search (-e search=true): the least CPU, then memory, at the target users", (
        Variable("search", False, BOOL, "true: search for the least CPU and memory instead of the list"),
        Variable("search_cpu_min", 0.25, NUMBER, "lowest CPU per replica probed", minimum=0,
                 exclusive_minimum=True, noun="a number of CPUs"),
        Variable("search_cpu_max", "", NUMBER, "highest; empty: the target's cores / replicas", minimum=0,
                 exclusive_minimum=True, optional=True, noun="a number of CPUs", hint=" (>= search_cpu_min)",
                 shown="the target's cores / replicas"),
        Variable("search_resolution", 0.25, NUMBER, "CPU step of the bisection", minimum=0,
                 exclusive_minimum=True, noun="a number of CPUs"),
        Variable("search_probe_mem", "2G", SIZE, "memory limit of the probes, generous so memory does not bind",
                 minimum=0, exclusive_minimum=True, hint=", e.g. 2G, 64M"),
        Variable("search_max_probes", 8, WHOLE, "per replica count; reaching it reports the bracket found so far",
                 minimum=1, maximum=100),
        Variable("search_mem_target_pct", 75, WHOLE, "the answer's memory keeps the probes' peak at this % of the limit",
                 minimum=1, maximum=99),
        Variable("search_mem_round", "64M", SIZE, "the answer's memory is rounded up to a multiple of this",
                 minimum=0, exclusive_minimum=True, hint=", e.g. 2G, 64M"),
        Variable("search_replicas", "", REPLICAS_LIST, 'e.g. "1,2,3": search per replica count, report the cheapest',
                 optional=True, hint=", e.g. 1,2,3", shown="replicas"),
        Variable("search_strategy", "model", CHOICE,
                 "model: the probes' capacity model places probes and skips known fails; or plain bisection",
                 choices=("model", "bisect")),
        Variable("search_probe_shape", "auto", CHOICE,
                 "probes after the first climb the steps, hold one window, or auto: hold if shorter",
                 choices=("auto", "ramp", "hold")),
        Variable("search_ramp_s", 30, NUMBER, "hold: seconds to start every user", minimum=0,
                 exclusive_minimum=True, noun="a number of seconds"),
        Variable("search_hold_s", "", NUMBER, "hold: seconds measured after the warm-up; empty: step_duration",
                 minimum=0, exclusive_minimum=True, optional=True, noun="a number of seconds",
                 shown="step_duration"),
    )),
    Section("Capacity model: what the measured steps predict for loads the lab did not send", (
        Variable("capacity_predict_users", [10000], USERS_LIST,
                 "users to predict CPU, memory and replicas for (-e capacity_predict_users=10000,20000)",
                 hint=", e.g. 10000,20000"),
    )),
    Section("Cost: what a variant costs to run, at on-demand container prices", (
        Variable("cost_cpu_hour", FARGATE_CPU_HOUR, NUMBER,
                 "price per vCPU-hour of CPU limit; 0 switches the cost block off", minimum=0,
                 note=f"defaults: {FARGATE_SOURCE}; override them with your own prices"),
        Variable("cost_gb_hour", FARGATE_GB_HOUR, NUMBER,
                 "price per GiB-hour (2^30 bytes) of memory limit", minimum=0),
        Variable("cost_currency", "USD", TEXT, "the currency of both prices"),
        Variable("cost_source", FARGATE_SOURCE, TEXT, "where the prices come from (shown in the report)"),
    )),
    Section("The service under test", (
        Variable("api_image", "", TEXT, "empty: build rightsize/inference-api:latest from api/",
                 shown="built from `api/`", mirrors=("inference_api_image",)),
        Variable("api_registry", "", REGISTRY,
                 "host[:port]: build the API image once, push it there, pull it by digest; empty: build on the target",
                 hint=", e.g. registry.internal:5000", shown="none", mirrors=("inference_api_registry",)),
        Variable("api_registry_username", "", TEXT, "user for the registry of api_registry or api_image",
                 shown="none (no login)",
                 mirrors=("inference_api_registry_username",)),
        Variable("api_registry_password", "{{ lookup('ansible.builtin.env', 'RIGHTSIZE_REGISTRY_PASSWORD') }}",
                 TEXT, "its password (-e, Vault, or RIGHTSIZE_REGISTRY_PASSWORD); never in results or output",
                 shown="`$RIGHTSIZE_REGISTRY_PASSWORD`", mirrors=("inference_api_registry_password",)),
        Variable("api_port", 8000, WHOLE, "port the API listens on inside its container", minimum=1,
                 maximum=65535, noun="a port number", mirrors=("inference_api_port", "loadtest_api_port")),
        Variable("api_health_path", "/health", URL_PATH, "GET, polled on every replica from outside the container",
                 mirrors=("inference_api_health_path", "loadtest_health_path")),
        Variable("api_predict_path", "/predict", URL_PATH, "POST, what Locust loads",
                 mirrors=("loadtest_predict_path",)),
        Variable("api_payloads", "", PAYLOADS,
                 "JSON-lines file on the controller, one request body per line; empty: Covertype rows",
                 shown="generated Covertype rows", mirrors=("loadtest_payloads",)),
        Variable("api_env", {}, MAPPING, "environment of the API container (its values stay out of results)",
                 noun="a mapping of environment variables", mirrors=("inference_api_env",)),
        Variable("api_health_timeout", 180, WHOLE, "seconds every replica gets to answer its health path",
                 minimum=1, mirrors=("inference_api_health_timeout",)),
        Variable("api_user", "10001:10001", TEXT, 'non-root uid:gid; "" = the image\'s own user',
                 note="hardening stays on for any image; loosen it only for an image that needs it "
                      "(the report records it)",
                 mirrors=("inference_api_user",)),
        Variable("api_read_only", True, BOOL, "read-only root filesystem", mirrors=("inference_api_read_only",)),
        Variable("api_tmpfs", ["/tmp"], LIST, "writable tmpfs mounts", noun="a list of paths",
                 mirrors=("inference_api_tmpfs",)),
        Variable("entry_port", 8000, WHOLE, "port published on the target (the API, or nginx in front of it)",
                 minimum=1, maximum=65535, noun="a port number",
                 mirrors=("inference_api_entry_port", "loadtest_entry_port")),
        Variable("api_proxy", "auto", CHOICE, "nginx in front: auto = when replicas > 1; always = also for one",
                 choices=("auto", "always"), noun="auto (nginx when replicas > 1) or always",
                 mirrors=("inference_api_proxy",)),
        Variable("api_proxy_max_in_flight", 0, WHOLE,
                 "requests nginx passes on at once, all replicas; past it a fast 503; 0 = no bound",
                 minimum=0, hint=" (0 = no bound)", shown="0 = no bound",
                 mirrors=("inference_api_proxy_max_in_flight",)),
        Variable("api_nofile", "auto", AUTO_WHOLE,
                 "open files of the API and nginx containers; auto: the target's hard limit, <= 65536",
                 minimum=1024, mirrors=("inference_api_nofile",)),
        Variable("docker_userland_proxy", "auto", AUTO_BOOL,
                 "auto: kernel NAT instead of docker-proxy where the target is also a loadgen host"),
    ), derived=(
        ("inference_api_bind_address",
         "{{ hostvars[groups['target'] | first].ansible_host | default(groups['target'] | first) }}",
         "the target's inventory address"),
        ("inference_api_templates_dir", "{{ rightsize_root }}/templates", ""),
        ("inference_api_source_dir", "{{ rightsize_root }}/api", ""),
    )),
    Section("Load generation", (
        Variable("locust_wait_min", 1, NUMBER, "seconds between a user's requests: between(min, max) as in the seed",
                 minimum=0, mirrors=("loadtest_wait_min",)),
        Variable("locust_wait_max", 3, NUMBER, "the high end of between(min, max), seconds", minimum=0, hint=" (>= locust_wait_min)",
                 mirrors=("loadtest_wait_max",)),
        Variable("locust_spawn_s", 5, NUMBER, "each step's new users are spawned over this many seconds",
                 minimum=0, exclusive_minimum=True, mirrors=("loadtest_spawn_s",)),
        Variable("locust_master_port", 5557, WHOLE, "the Locust master's port for its workers", minimum=1,
                 maximum=65535, noun="a port number", mirrors=("loadtest_master_port",)),
        Variable("locust_workers_per_host", 0, WHOLE, "Locust worker processes per loadgen host; 0: one per core",
                 minimum=0, hint=" (0 = one per core)", shown="0 = one per core",
                 mirrors=("loadtest_workers_per_host",)),
        Variable("generator_cpu_s_per_request", 0.0004, NUMBER,
                 "CPU-seconds a Locust worker spends per request it sends, measured with `python -m "
                 "bench.generator`; preflight warns when the loadgen hosts are too few for users",
                 minimum=0, exclusive_minimum=True, noun="a number of seconds"),
        Variable("locust_ui", False, BOOL, "true: start the master with its web UI instead of headless",
                 mirrors=("loadtest_ui",)),
    )),
    Section("MLflow (optional): the model source and the results log", (
        Variable("mlflow_tracking_uri", "", HTTP_URL,
                 "a tracking server the team runs (http://host:5000); empty: the mlflow group's, else none",
                 optional=True, noun="an http(s) URL of an MLflow tracking server, or empty",
                 shown="empty = the `mlflow` group's server, else no MLflow"),
        Variable("mlflow_experiment", "rightsize", TEXT, "the experiment each run is logged under"),
        Variable("mlflow_port", 5000, WHOLE, "the port the mlflow group's tracking server is published on",
                 minimum=1, maximum=65535, noun="a port number"),
        Variable("mlflow_db_password", "rightsize-mlflow", TEXT,
                 "the MariaDB password of that server's backend store (never published, a compose secret)"),
        Variable("api_model_uri", "", MODEL_URI,
                 "models:/covertype/1 or models:/covertype@alias: serve that registered version, not the baked one",
                 optional=True, noun="a models:/NAME/VERSION or models:/NAME@ALIAS URI, or empty",
                 shown="empty = the model baked into the image", mirrors=("inference_api_model_uri",)),
    ), derived=(
        ("mlflow_uri",
         "{{ mlflow_tracking_uri if mlflow_tracking_uri | length > 0 else "
         "(groups | rs_mlflow_group_uri(hostvars, mlflow_port)) }}",
         "the tracking server in use: mlflow_tracking_uri, else the mlflow group's, else none"),
        ("inference_api_mlflow_uri", "{{ mlflow_uri }}", ""),
        ("loadtest_mlflow_uri", "{{ mlflow_uri }}", "the report logs each run there (collect/report.py --mlflow)"),
        ("loadtest_mlflow_experiment", "{{ mlflow_experiment }}", ""),
        ("inference_api_model_cache", "{{ rightsize_root }}/.cache/models", "registered models fetched on the controller"),
    )),
    Section("Run bookkeeping", (
        Variable("run_id", "{{ lookup('ansible.builtin.pipe', 'date -u +%Y%m%dT%H%M%SZ') }}", FOLDER_NAME,
                 "the results folder of the run", shown="UTC timestamp"),
        Variable("keep", False, BOOL, "true: leave the last variant running for inspection",
                 mirrors=("loadtest_keep",)),
        Variable("repeats", 1, WHOLE, "runs of each variant (and of the search's confirmation), redeployed each time",
                 minimum=1, maximum=20, mirrors=("loadtest_repeats",)),
        Variable("offline_images", "auto", AUTO_BOOL, "auto|true|false: build base images locally when no registry answers",
                 mirrors=("docker_offline_images",)),
        Variable("results_dir", "{{ rightsize_root }}/results", TEXT, "where runs are written on the controller",
                 shown="results/ of the repo"),
        Variable("remote_root", "/opt/rightsize", ABS_PATH, "installs on every host (Locust, samplers, deploy files)"),
        Variable("remote_run_root", "/var/tmp/rightsize", ABS_PATH, "run files on every host before they are fetched"),
    ), derived=(
        ("rightsize_root", "{{ ansible_config_file | default(playbook_dir ~ '/x', true) | dirname }}",
         "this repository on the controller"),
    )),
)

VARIABLES: dict[str, Variable] = {v.name: v for section in TABLE for v in section.variables}

# The role variables group_vars derives from the public ones (role -> public); the playbooks hand
# the loadtest ones over as play vars (playbooks/sweep.yml), the inference_api ones live in group_vars.
MIRRORS: dict[str, str] = {role: v.name for v in VARIABLES.values() for role in v.mirrors}


# run.json's "slo" and "report" blocks: key -> the public variable it records (collect/settings.py
# reads them back into the report's Settings, rightsize/records.py writes them)
RUN_SLO = {
    "failure_rate_max": "slo_failure_rate_max",  # failed / all requests, 0-1; value < max passes
    "p95_ms_max": "slo_p95_ms_max",              # p95 latency in ms; judged with a binomial test
    "cpu_pct_max": "slo_cpu_pct_max",            # mean CPU of the API containers, % of their summed limit
    "mem_pct_max": "slo_mem_pct_max",            # mean memory of the most loaded API container, % of its limit
}
RUN_REPORT = {
    "warmup_s": "report_warmup_s",                     # first seconds of each step left out of every figure
    "generator_cpu_pct_max": "generator_cpu_pct_max",  # a Locust process above this % of one core invalidates the step
    "stability_tolerance": "stability_tolerance",      # sub-window RPS may differ by this fraction of their mean
}
# run.json's "cost" block: key -> the public variable it records (rightsize/cost.py reads it back)
RUN_COST = {
    "cpu_hour": "cost_cpu_hour",    # price per vCPU-hour of CPU limit; 0: no cost block
    "gb_hour": "cost_gb_hour",      # price per GiB-hour of memory limit
    "currency": "cost_currency",
    "source": "cost_source",
}


def defaults() -> dict[str, Any]:
    """Every public variable's default (None for cpu and mem; Jinja text for derived ones)."""
    return {name: v.default for name, v in VARIABLES.items()}


# ---------------------------------------------------------------- reading values


def is_given(value) -> bool:
    return value is not None and value != ""


def to_bool(value) -> bool:
    """A boolean as Ansible passes it (true, "yes", 1); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in BOOL_WORDS:
        raise ValueError(f"{value!r} is not true or false")
    return BOOL_WORDS[word]


def typed(name: str, value):
    """The value of a public variable in its kind's Python type (for run.json): floats, ints,
    booleans, lists of ints; "" of an optional one is None. ValueError when it is not of its kind."""
    from rightsize.values import number, search_replicas, users_list, whole_number

    var = VARIABLES[name]
    if value is None or (var.optional and not is_given(value)):
        return None
    kind = var.kind
    if kind == NUMBER:
        return number(value)
    if kind == WHOLE:
        return whole_number(value)
    if kind == BOOL:
        return to_bool(value)
    if kind == AUTO_BOOL:
        return "auto" if str(value).strip().lower() == "auto" else to_bool(value)
    if kind == AUTO_WHOLE:
        return "auto" if str(value).strip().lower() == "auto" else whole_number(value)
    if kind == USERS_LIST:
        return users_list(value)
    if kind == REPLICAS_LIST:
        return search_replicas(value)
    if kind in (SIZE, URL_PATH, ABS_PATH, TEXT, CHOICE, FOLDER_NAME, PROFILE, PAYLOADS, REGISTRY, HTTP_URL, MODEL_URI):
        return str(value)
    return value


# ---------------------------------------------------------------- generated files


def flow(value) -> str:
    """A YAML flow rendering of a default: 0.25, true, /health, "10001:10001", [/tmp], {}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if value is None:
        return "null"
    return _scalar(str(value))


def _scalar(text: str) -> str:
    import yaml

    if re.fullmatch(r"[A-Za-z0-9/][A-Za-z0-9_./-]*", text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text)


def _line(name: str, value: str, comment: str) -> str:
    line = f"{name}: {value}" if value else f"{name}:"
    if not comment:
        return line
    if len(line) < 31 and len(comment) <= 120:
        return f"{line:<31} # {comment}"
    above = textwrap.wrap(comment, width=118, break_on_hyphens=False)  # yamllint's lines stay short
    return "\n".join(f"# {part}" for part in above) + f"\n{line}"


def _rule(title: str) -> str:
    head = f"# --- {title} "
    return head + "-" * max(3, 100 - len(head))


def group_vars_text() -> str:
    """group_vars/all.yml: every public variable's default and meaning, and the role variables
    derived from them."""
    out = [
        "# rightsize — the knobs a user edits. Extra-vars (-e) win over everything here.",
        "# GENERATED from rightsize/variables.py, the one table of the public variables (default, type,",
        "# bounds, meaning): edit it there, then `python -m rightsize.variables --write-group-vars`.",
        "# Public names are read at play level and handed to roles as role-prefixed variables.",
    ]
    for section in TABLE:
        out += ["", _rule(section.title)]
        for v in section.variables:
            if v.note:
                out.append(f"# {v.note}")
            if not v.group_vars:
                out.append(f"# {v.name}: -e only, {v.meaning.replace(' (-e only)', '')}")
                continue
            if v.kind == PROFILES:
                out.append(_line(v.name, "", v.meaning))
                out += [f"  {name}: {flow(p)}" for name, p in v.default.items()]
            elif v.kind == VARIANTS:
                out.append(_line(v.name, "", v.meaning))
                out += [f"  - {flow(item)}" for item in v.default]
            else:
                out.append(_line(v.name, flow(v.default), v.meaning))
        if section.title == "The service under test":
            out += ["", _rule("The same, as the inference_api role takes them")]
            out += [_line(role, json.dumps(f"{{{{ {public} }}}}"), "")
                    for role, public in MIRRORS.items() if role.startswith("inference_api_")]
        out += [(f"# {comment}\n" if comment else "") + _line(name, json.dumps(expr), "")
                for name, expr, comment in section.derived]
    out += ["", _rule("Paths on every host: everything under remote_root and remote_run_root")]
    out += [_line(name, json.dumps(expr), "") for name, expr, _ in REMOTE_PATHS]
    return "\n".join(out) + "\n"


PREFLIGHT_OWN = {
    "preflight_locust_version": {"type": "str", "description": "Locust version recorded in run.json."},
    "rightsize_root": {"type": "path", "description": "This repository on the controller (git commit of run.json)."},
}


def preflight_argument_specs_text() -> str:
    """roles/preflight/meta/argument_specs.yml: what preflight reads. The public variables are
    `type: raw`: their checks and messages are preflight's own (rightsize/checks.py)."""
    out = [
        "---",
        "# GENERATED from rightsize/variables.py (python -m rightsize.variables --write-argument-specs).",
        "# The public variables are type raw: preflight checks them itself (rightsize/checks.py) and",
        "# names the variable and what it accepts.",
        "argument_specs:",
        "  main:",
        "    short_description: Check the public variables and plan the variants before anything is deployed.",
        "    options:",
    ]
    options = [(name, spec["type"], spec["description"]) for name, spec in PREFLIGHT_OWN.items()]
    options += [(v.name, "raw", f"{v.meaning}; accepts {v.accepts}.") for v in VARIABLES.values()]
    for name, kind, text in options:
        out += [f"      {name}:", f"        type: {kind}", "        description: >-"]
        out += [f"          {line}" for line in textwrap.wrap(text, 100, break_on_hyphens=False)]
    return "\n".join(out) + "\n"


ROOT = Path(__file__).resolve().parent.parent
GENERATED = {
    "group_vars/all.yml": group_vars_text,
    "roles/preflight/meta/argument_specs.yml": preflight_argument_specs_text,
}


def stale_files(root: Path = ROOT) -> list[str]:
    """The generated files whose committed text differs from the table's."""
    return [rel for rel, make in GENERATED.items()
            if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != make()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rightsize.variables", description=__doc__.split("\n")[0])
    parser.add_argument("--write-group-vars", action="store_true", help="write group_vars/all.yml")
    parser.add_argument("--write-argument-specs", action="store_true",
                        help="write roles/preflight/meta/argument_specs.yml")
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    args = parser.parse_args(argv)
    wanted = [rel for rel, flag in (("group_vars/all.yml", args.write_group_vars),
                                    ("roles/preflight/meta/argument_specs.yml", args.write_argument_specs)) if flag]
    for rel in wanted:
        (ROOT / rel).write_text(GENERATED[rel](), encoding="utf-8")
        print(f"wrote {rel}")
    if args.check or not wanted:
        stale = stale_files()
        for rel in stale:
            print(f"{rel} is out of date: python -m rightsize.variables --write-"
                  f"{'group-vars' if rel.startswith('group_vars') else 'argument-specs'}", file=sys.stderr)
        return 1 if stale else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
