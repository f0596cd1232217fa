"""The preflight checks: every problem with the public variables, as messages naming the variable.

Each variable's kind, bounds and the wording of what it accepts come from its one declaration in
rightsize/variables.py; this module applies them (and the rules that tie two variables together).
Each function returns a list of messages, empty when the values are fine; nothing is deployed
while one is not empty (roles/preflight).
"""
import math
import os
import re

from rightsize import variables as table
from rightsize.names import docker_bytes
from rightsize.payloads import payload_errors
from rightsize.values import number, search_replicas, users_list, whole_number
from rightsize.variables import VARIABLES, is_given, to_bool

FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# host[:port] as Docker writes it: a name or IPv4 (or [IPv6]), an optional port; no scheme, no path
REGISTRY = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?")
HTTP_URL = re.compile(r"https?://[A-Za-z0-9.\[\]:_-]+(:[0-9]{1,5})?(/\S*)?")
MODEL_URI = re.compile(r"models:/[A-Za-z0-9._-]+(/[0-9]+|@[A-Za-z0-9_-]+)")
# checked by the functions below (they tie variables together), not one by one in preflight_errors
VARIANT_VARIABLES = ("cpu", "mem", "replicas")
LOAD_VARIABLES = ("users", "users_step", "step_duration")
STRUCTURES = (table.PROFILE, table.PROFILES, table.VARIANTS, table.PAYLOADS)


def _within(var, x) -> bool:
    if not math.isfinite(x):
        return False
    if var.minimum is not None and (x < var.minimum or (var.exclusive_minimum and x == var.minimum)):
        return False
    return var.maximum is None or x <= var.maximum


def _fits(var, value) -> bool:
    """True when value is of the variable's kind and inside its bounds (ValueError/TypeError: no)."""
    kind = var.kind
    if kind == table.NUMBER:
        return _within(var, number(value))
    if kind == table.WHOLE:
        return _within(var, whole_number(value))
    if kind == table.BOOL:
        return isinstance(to_bool(value), bool)
    if kind == table.AUTO_BOOL:
        return str(value).strip().lower() == "auto" or isinstance(to_bool(value), bool)
    if kind == table.AUTO_WHOLE:
        return str(value).strip().lower() == "auto" or _within(var, whole_number(value))
    if kind == table.CHOICE:
        return str(value) in var.choices
    if kind == table.SIZE:
        return _within(var, docker_bytes(value))
    if kind == table.URL_PATH:
        return isinstance(value, str) and value.startswith("/")
    if kind == table.ABS_PATH:
        return isinstance(value, str) and os.path.isabs(value) and os.path.normpath(value) != "/" \
            and not re.search(r"\s", value)
    if kind == table.TEXT:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if kind == table.HTTP_URL:
        return isinstance(value, str) and bool(HTTP_URL.fullmatch(value))
    if kind == table.MODEL_URI:
        return isinstance(value, str) and bool(MODEL_URI.fullmatch(value))
    if kind == table.MAPPING:
        return isinstance(value, dict)
    if kind == table.LIST:
        return isinstance(value, (list, tuple))
    if kind == table.USERS_LIST:
        return bool(users_list(value))
    if kind == table.REPLICAS_LIST:
        return all(count >= 1 for count in search_replicas(value))
    if kind == table.FOLDER_NAME:
        return bool(FOLDER_NAME.fullmatch(str(value)))
    if kind == table.REGISTRY:
        return value == "" or (isinstance(value, str) and bool(REGISTRY.fullmatch(value)))
    raise ValueError(f"{var.name}: kind {kind} is checked by its own function")


def variable_error(name, value, source=""):
    """The message naming the variable and what it accepts, or None when the value is fine."""
    var = VARIABLES[name]
    if var.optional and not is_given(value):
        return None
    try:
        if _fits(var, value):
            return None
    except (TypeError, ValueError, OverflowError):
        pass
    where = f" ({source})" if source else ""
    shown = "(hidden)" if name.endswith("_password") else repr(value)  # a secret is never echoed
    return f"{name}={shown}{where}: expected {var.accepts}"


def variant_errors(cpu, mem, replicas, source="extra-vars"):
    """Messages naming each bad variable of one variant; empty when it is fine."""
    return [error for error in (variable_error("cpu", cpu, source), variable_error("mem", mem, source),
                                variable_error("replicas", replicas, source)) if error]


def load_errors(users, users_step, step_duration, warmup_s):
    """Messages naming each bad load variable; empty when they are fine."""
    given = {"users": users, "users_step": users_step, "step_duration": step_duration}
    errors = [error for error in (variable_error(name, value) for name, value in given.items()) if error]
    checked = {name: whole_number(value) for name, value in given.items() if variable_error(name, value) is None}
    if "users" in checked and "users_step" in checked and checked["users_step"] > checked["users"]:
        errors.append(f"users_step={users_step} is larger than users={users}: expected 1 <= users_step <= users")
    try:
        warmup = number(warmup_s)
    except (TypeError, ValueError):
        return errors  # named by its own check
    if "step_duration" in checked and checked["step_duration"] <= warmup:
        errors.append(
            f"step_duration={step_duration!r}: expected more seconds than the warm-up "
            f"report_warmup_s={warmup_s!r}, or nothing of the step is measured"
        )
    return errors


def _searching(hostvars) -> bool:
    try:
        return to_bool(hostvars.get("search", False))
    except ValueError:
        return False  # named by its own check


def search_errors(hostvars):
    """The search's rules that tie variables together (each variable is checked on its own too)."""
    errors = []
    if _searching(hostvars) and (is_given(hostvars.get("cpu")) or is_given(hostvars.get("mem"))):
        errors.append("cpu/mem: search=true finds them itself; drop -e cpu=... mem=...")
    low, high = hostvars.get("search_cpu_min"), hostvars.get("search_cpu_max")
    if is_given(high) and variable_error("search_cpu_min", low) is None \
            and variable_error("search_cpu_max", high) is None and number(high) < number(low):
        errors.append(f"search_cpu_max={high!r}: expected a number >= search_cpu_min={low!r}")
    return errors


def wait_errors(hostvars):
    """locust_wait_max below locust_wait_min."""
    low, high = hostvars.get("locust_wait_min"), hostvars.get("locust_wait_max")
    if low is None or high is None or variable_error("locust_wait_min", low) or variable_error("locust_wait_max", high):
        return []
    if number(high) < number(low):
        return [f"locust_wait_max={high!r}: expected a number >= locust_wait_min={low!r}"]
    return []


def profiles_errors(profiles):
    """Each profile must give users, users_step and step_duration as whole numbers >= 1."""
    if not isinstance(profiles, dict) or not profiles:
        return [f"profiles={profiles!r}: expected {VARIABLES['profiles'].accepts}"]
    errors = []
    for name, item in profiles.items():
        if not isinstance(item, dict):
            errors.append(f"profiles.{name}={item!r}: expected a mapping with users, users_step, step_duration")
            continue
        errors += [f"profiles.{name}.{error}" for key in LOAD_VARIABLES
                   for error in [variable_error(key, item.get(key))] if error]
    return errors


def preflight_errors(hostvars, groups=None):
    """Every problem with the public variables, as messages that name the variable (groups: the
    inventory's, for the rules that depend on it, e.g. the mlflow group)."""
    errors = []
    profiles = hostvars.get("profiles") or {}
    profile = hostvars.get("profile")
    if profile not in profiles:
        errors.append(f"profile={profile!r}: expected one of {', '.join(sorted(profiles))}")
        return errors
    errors += profiles_errors(profiles)
    explicit = is_given(hostvars.get("cpu")) or is_given(hostvars.get("mem"))
    if _searching(hostvars):
        pass
    elif explicit:
        if not is_given(hostvars.get("cpu")) or not is_given(hostvars.get("mem")):
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
    if not explicit and "replicas" in hostvars:
        errors += [e for e in [variable_error("replicas", hostvars["replicas"])] if e]
    errors += load_errors(
        hostvars.get("users"), hostvars.get("users_step"), hostvars.get("step_duration"),
        hostvars.get("report_warmup_s", VARIABLES["report_warmup_s"].default),
    )
    for name, var in VARIABLES.items():
        if name in VARIANT_VARIABLES or name in LOAD_VARIABLES or var.kind in STRUCTURES or name not in hostvars:
            continue
        error = variable_error(name, hostvars[name])
        if error:
            errors.append(error)
    errors += search_errors(hostvars)
    errors += wait_errors(hostvars)
    errors += payload_errors(hostvars.get("api_payloads") or "")
    errors += mlflow_errors(hostvars, groups or {})
    return errors


def mlflow_errors(hostvars, groups):
    """api_model_uri needs a tracking server to fetch the model from: mlflow_tracking_uri, or a
    host in the inventory group mlflow."""
    server = is_given(hostvars.get("mlflow_tracking_uri")) or bool(groups.get("mlflow"))
    if is_given(hostvars.get("api_model_uri")) and not server:
        return [f"api_model_uri={hostvars['api_model_uri']!r}: needs a tracking server: set "
                "mlflow_tracking_uri=http://HOST:PORT or put a host in the inventory group 'mlflow'"]
    if is_given(hostvars.get("api_model_uri")) and is_given(hostvars.get("api_image")):
        return [f"api_model_uri={hostvars['api_model_uri']!r}: serves a registered covertype model in the "
                f"rightsize API image; it cannot be combined with api_image={hostvars['api_image']!r}"]
    return []
