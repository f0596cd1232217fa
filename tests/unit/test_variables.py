"""The one table of public variables (rightsize/variables.py) and everything that must agree with it:
group_vars/all.yml and the preflight argument specs (generated), the preflight checks' bounds, the
report's defaults, the roles' mirrored defaults and paths, the locustfile's own defaults and the
README's variables tables."""
import os
import re
from pathlib import Path

import pytest
import yaml
from jinja2 import meta
from jinja2.nativetypes import NativeEnvironment

from collect.settings import REPORT_VARIABLES, SLO_VARIABLES, Settings
from rightsize import variables
from rightsize.checks import preflight_errors, variable_error
from rightsize.variables import MIRRORS, REMOTE_PATHS, VARIABLES

ROOT = Path(__file__).resolve().parents[2]
GROUP_VARS = yaml.safe_load((ROOT / "group_vars" / "all.yml").read_text())
OLD_ROOTS = ("/opt/rightsize", "/var/tmp/rightsize")


def resolve(values: dict, extra: dict | None = None) -> dict:
    """The group_vars values as Ansible would template them (the names a test can resolve: the
    inventory-dependent ones, such as inference_api_bind_address, stay as written)."""
    env = NativeEnvironment()
    env.filters["dirname"] = os.path.dirname
    # run_id's pipe lookup gives a time stamp; an env lookup (api_registry_password) an unset variable
    env.globals["lookup"] = lambda kind, *args, **kwargs: "" if kind.endswith("env") else "20260101T000000Z"
    values = {**values, **(extra or {})}
    done: dict = {}

    def value(name):
        if name in done:
            return done[name]
        raw = values[name]
        if isinstance(raw, str) and "{{" in raw:
            names = meta.find_undeclared_variables(env.parse(raw))
            context = {n: value(n) for n in names if n in values}
            if any(n not in values and n not in ("default_profile", "lookup", "ansible_config_file",
                                                 "playbook_dir") for n in names):
                done[name] = raw  # needs the inventory
                return raw
            context.setdefault("ansible_config_file", str(ROOT / "ansible.cfg"))
            raw = env.from_string(raw).render(**context)
        done[name] = raw
        return raw

    return {name: value(name) for name in values}


def role_defaults() -> dict[str, dict]:
    return {path.parts[-3]: yaml.safe_load(path.read_text()) or {}
            for path in sorted(ROOT.glob("roles/*/defaults/main.yml"))}


# ---------------------------------------------------------------- generated files


def test_generated_files_are_those_of_the_table():
    assert variables.stale_files() == [], "run: python -m rightsize.variables --write-group-vars --write-argument-specs"


def test_the_check_command_says_which_file_is_stale(tmp_path, capsys):
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(variables.group_vars_text().replace("users: 200", "users: 300"))
    (tmp_path / "roles/preflight/meta").mkdir(parents=True)
    (tmp_path / "roles/preflight/meta/argument_specs.yml").write_text(variables.preflight_argument_specs_text())
    assert variables.stale_files(tmp_path) == ["group_vars/all.yml"]


def test_group_vars_holds_every_public_default_and_the_derived_role_variables():
    for name, var in VARIABLES.items():
        if var.group_vars:
            assert GROUP_VARS[name] == var.default, name
        else:
            assert name not in GROUP_VARS  # -e only
    for role_var, public in MIRRORS.items():
        if role_var.startswith("inference_api_"):
            assert GROUP_VARS[role_var] == f"{{{{ {public} }}}}"
    for name in ("inference_api_bind_address", "inference_api_templates_dir", "inference_api_source_dir",
                 "rightsize_root", "results_dir"):
        assert name in GROUP_VARS


def test_the_group_vars_defaults_pass_preflight():
    resolved = resolve(GROUP_VARS)
    assert resolved["profile"] == "stress" and resolved["users"] == 10000
    assert preflight_errors(resolved) == []
    assert preflight_errors(resolve(GROUP_VARS, {"default_profile": "quick"})) == []


def test_every_public_variable_is_declared_to_preflight_as_raw():
    specs = yaml.safe_load((ROOT / "roles/preflight/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    for name in VARIABLES:
        assert options[name]["type"] == "raw", name
        assert VARIABLES[name].accepts in options[name]["description"]


# ---------------------------------------------------------------- the checks take their bounds from it


def _outside(var):
    """A value just outside the variable's bounds, and one just inside."""
    step = 1 if var.kind == variables.WHOLE else 0.001
    if var.minimum is not None:
        low = var.minimum if var.exclusive_minimum else var.minimum - step
        inside = var.minimum + step if var.exclusive_minimum else var.minimum
        return low, inside
    return var.maximum + step, var.maximum


BOUNDED = [v for v in VARIABLES.values()
           if v.kind in (variables.NUMBER, variables.WHOLE) and (v.minimum is not None or v.maximum is not None)]


@pytest.mark.parametrize("var", BOUNDED, ids=[v.name for v in BOUNDED])
def test_bounds_come_from_the_table(var):
    outside, inside = _outside(var)
    message = variable_error(var.name, str(outside))
    assert message and message.startswith(f"{var.name}=") and var.accepts in message
    assert variable_error(var.name, str(inside)) is None
    if var.maximum is not None:
        assert variable_error(var.name, var.maximum + 1) is not None
        assert variable_error(var.name, var.maximum) is None


@pytest.mark.parametrize("name, value", [
    ("api_health_timeout", "15"), ("cpu", "1.0"), ("mem", "1G"), ("mem", "1.5g"), ("replicas", "3"),
    ("capacity_predict_users", "10000,20000"), ("capacity_predict_users", [10000]),
    ("capacity_predict_users", "10000"), ("keep", "true"), ("keep", "no"), ("fail_on_slo", True),
    ("offline_images", "false"), ("offline_images", "auto"), ("api_nofile", "4096"), ("api_nofile", "auto"),
    ("docker_userland_proxy", "no"), ("search_replicas", "1,2,3"), ("search_replicas", ""),
    ("search_cpu_max", ""), ("search_cpu_max", "2"), ("locust_workers_per_host", "3"),
    ("slo_failure_rate_max", "0.001"), ("api_user", ""), ("remote_root", "/srv/rightsize"),
    ("run_id", "lab1"), ("api_proxy", "always"), ("entry_port", "8080"),
])
def test_values_users_pass_stay_accepted(name, value):
    assert variable_error(name, value) is None


@pytest.mark.parametrize("name, value", [
    ("capacity_predict_users", "0"), ("capacity_predict_users", "many"), ("capacity_predict_users", "1.5"),
    ("api_nofile", "100"), ("docker_userland_proxy", "sometimes"), ("remote_root", "opt/rightsize"),
    ("remote_root", "/"), ("slo_mem_pct_max", "150"), ("api_port", "0"), ("keep", "maybe"),
    ("search_replicas", "1,0"), ("api_health_path", "health"), ("api_env", "A=1"),
])
def test_values_out_of_kind_are_named_with_what_they_accept(name, value):
    message = variable_error(name, value)
    assert message == f"{name}={value!r}: expected {VARIABLES[name].accepts}"


def test_typed_values_for_run_json():
    assert variables.typed("capacity_predict_users", "10000,20000") == [10000, 20000]
    assert variables.typed("search_cpu_max", "") is None
    assert variables.typed("search_cpu_max", "2") == 2.0
    assert variables.typed("keep", "yes") is True
    assert variables.typed("locust_wait_min", "1") == 1.0
    assert variables.typed("api_nofile", "auto") == "auto" and variables.typed("api_nofile", "4096") == 4096
    assert variables.typed("search_replicas", "1,2") == [1, 2]


# ---------------------------------------------------------------- readers of the table


def test_the_report_defaults_are_the_tables():
    s = Settings()
    for field, name in {**SLO_VARIABLES, **REPORT_VARIABLES}.items():
        assert getattr(s, field) == VARIABLES[name].default, name


def test_role_defaults_that_mirror_a_public_variable_have_its_default():
    defaults = {name: value for role in role_defaults().values() for name, value in role.items()}
    resolved = resolve(GROUP_VARS)
    checked = []
    for role_var, public in MIRRORS.items():
        if role_var in defaults:
            assert defaults[role_var] == resolved[public], f"{role_var} defaults to {defaults[role_var]!r}, " \
                                                           f"{public} to {resolved[public]!r}"
            checked.append(role_var)
    assert {"loadtest_users_step", "loadtest_users", "inference_api_port", "docker_offline_images"} <= set(checked)


def test_the_locustfile_defaults_are_the_tables():
    text = (ROOT / "locust" / "locustfile.py").read_text()
    found = dict(re.findall(r'add_argument\("--(rs-[a-z-]+)"[^)]*default=([^,)]+)', text))
    resolved = resolve(GROUP_VARS)
    for option, public in {"rs-users-step": "users_step", "rs-step-duration": "step_duration",
                           "rs-spawn-s": "locust_spawn_s", "rs-wait-min": "locust_wait_min",
                           "rs-wait-max": "locust_wait_max", "rs-predict-path": "api_predict_path"}.items():
        assert yaml.safe_load(found[option]) == resolved[public], option


# ---------------------------------------------------------------- remote_root and remote_run_root


def test_remote_roots_reach_every_role():
    moved = resolve(GROUP_VARS, {"remote_root": "/srv/rz", "remote_run_root": "/run/rz"})
    for name, _, _ in REMOTE_PATHS:
        assert moved[name].startswith(("/srv/rz", "/run/rz")), name
    # every role default that names a path under the old roots is overridden from them in group_vars
    for role, defaults in role_defaults().items():
        for name, value in defaults.items():
            if isinstance(value, str) and value.startswith(OLD_ROOTS):
                assert name in dict((n, e) for n, e, _ in REMOTE_PATHS), f"{role}: {name} = {value}"
                assert moved[name] == value.replace("/opt/rightsize", "/srv/rz").replace("/var/tmp/rightsize", "/run/rz")
    # one role installs what another runs, teardown.yml finds what loadtest left
    assert moved["loadtest_locust_venv"] == moved["locust_venv"]
    assert moved["loadtest_locust_dir"] == moved["locust_files_dir"]
    assert moved["loadtest_remote_root"] == moved["remote_run_root"] + "/runs"
    assert moved["loadtest_bin_dir"] == moved["remote_root"] + "/bin"
    assert moved["inference_api_deploy_dir"] == moved["remote_root"] + "/deploy"


def test_no_task_or_template_hard_codes_a_remote_path():
    found = []
    for folder in ("playbooks", "roles", "templates"):
        for path in sorted((ROOT / folder).rglob("*")):
            if not path.is_file() or path.match("roles/*/defaults/main.yml"):
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
                if any(old in line for old in OLD_ROOTS):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "use the variables derived from remote_root / remote_run_root:\n" + "\n".join(found)


# ---------------------------------------------------------------- the README's tables


def readme_rows():
    """(names, default) of every row of the README's `| variable | default | meaning |` tables."""
    rows, in_table = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| variable | default | meaning |"):
            in_table = True
            continue
        if in_table and line.startswith("|---"):
            continue
        if in_table and line.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows.append((re.findall(r"`([a-z0-9_]+)`", cells[0]), cells[1]))
        else:
            in_table = False
    return rows


def test_every_readme_variables_row_names_a_variable_with_its_default():
    rows = readme_rows()
    assert len(rows) > 30
    for names, default in rows:
        assert names and all(name in VARIABLES for name in names), names
        shown = [VARIABLES[name].readme_default() for name in names]
        expected = {", ".join(shown).replace("`", "")}
        if len(set(shown)) == 1:
            expected.add(shown[0].replace("`", ""))
        assert default.replace("`", "") in expected, f"README row {names}: {default!r}, table: {expected}"


def test_every_public_variable_is_in_a_readme_table():
    named = {name for names, _ in readme_rows() for name in names}
    assert set(VARIABLES) - named == set()


# ---------------------------------------------------------------- the roles say what they take


def test_loadtest_declares_every_input_and_takes_public_values_raw():
    specs = yaml.safe_load((ROOT / "roles/loadtest/meta/argument_specs.yml").read_text())["argument_specs"]
    options = specs["main"]["options"]
    inputs = set(role_defaults()["loadtest"])
    sweep = yaml.safe_load((ROOT / "playbooks/sweep.yml").read_text())
    passed = {name for play in sweep for role in play.get("roles", []) for name in role.get("vars", {})}
    assert inputs | passed <= set(options), sorted((inputs | passed) - set(options))
    for role_var in MIRRORS:
        if role_var.startswith("loadtest_"):
            assert options[role_var]["type"] == "raw", role_var
    assert set(specs["fetch"]["options"]) == {"loadtest_out", "loadtest_local"}


def test_loadtest_spec_accepts_what_sweep_yml_passes():
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    from rightsize.plan import plan_variants

    specs = yaml.safe_load((ROOT / "roles/loadtest/meta/argument_specs.yml").read_text())["argument_specs"]
    given = {**role_defaults()["loadtest"],
             "loadtest_plan": plan_variants([], cpu="0.5", mem="512M", replicas="1", cores=2),
             "loadtest_search": {}, "loadtest_run_record": {"run_id": "r1"}, "loadtest_run_id": "r1",
             "loadtest_keep": "true", "loadtest_users": "600", "loadtest_payloads": "", "rightsize_root": str(ROOT)}
    result = ArgumentSpecValidator(specs["main"]["options"]).validate(given)
    assert result.error_messages == []
    bad = ArgumentSpecValidator(specs["main"]["options"]).validate({**given, "loadtest_plan": "c0.5"})
    assert bad.error_messages
    fetch = ArgumentSpecValidator(specs["fetch"]["options"]).validate({"loadtest_out": "/var/tmp/x"})
    assert any("loadtest_local" in message for message in fetch.error_messages)
