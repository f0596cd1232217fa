"""Running the real playbooks from tests: ansible-playbook of the project's venv, on an inventory."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def schema_path():
    shared = ROOT.parent / "shared" / "summary.schema.json"
    return shared if shared.exists() else ROOT / "collect" / "summary.schema.json"


def validate_summary(summary):
    import jsonschema

    jsonschema.validate(summary, json.loads(schema_path().read_text()))


def _command(args, inventory, provision=False, env=None):
    """The suite provisions once (`make test` runs `make provision` first, the lab fixture provisions
    the lab hosts once; test_provision_twice_changes_nothing proves a second run is a no-op), so the
    playbooks under test skip their provisioning plays unless a test asks for them."""
    command = [str(BIN / "ansible-playbook"), *args]
    if not provision:
        command[1:1] = ["--skip-tags", "provision"]
    if inventory:
        command[1:1] = ["-i", str(inventory)]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **(env or {})}
    return command, env


def ansible_playbook(*args, inventory=None, timeout=1800, provision=False, env=None):
    """Run ansible-playbook from the repo root; returns the CompletedProcess (output in .stdout).
    env: variables added to the environment (e.g. RIGHTSIZE_REGISTRY_PASSWORD)."""
    command, env = _command(args, inventory, provision, env)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    result.stdout += result.stderr
    return result


def start_playbook(*args, inventory=None, provision=False):
    """ansible-playbook in the background, in its own session (signal its group as Ctrl-C would)."""
    command, env = _command(args, inventory, provision)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP of an ansible-playbook run."""
    hosts = {}
    lines = output.split("PLAY RECAP")[-1].splitlines()[1:]
    for line in lines:
        if ":" not in line or "=" not in line:
            continue
        host, _, counts = line.partition(":")
        hosts[host.strip()] = {key: int(value) for key, value in (item.split("=") for item in counts.split())}
    return hosts


def rightsize_containers():
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=io.rightsize.managed=true"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()
