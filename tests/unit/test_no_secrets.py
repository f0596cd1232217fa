"""No secrets in the repository: no private key, no password in an inventory or vars file.

SSH keys are referenced from the inventory (ansible_ssh_private_key_file), never committed;
that results hold no secret is checked on a real run in tests/integration/test_pipeline.py.
"""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# built from pieces so that this file does not match itself
SECRET = re.compile("|".join([
    "-----BEGIN [A-Z ]*" + "PRIVATE KEY-----",
    r"ansible_(ssh_|become_)?pass" + r"(word)?\s*[:=]\s*\S",
    "AKIA" + "[0-9A-Z]{16}",
]))


def tracked_files():
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def secrets_in(paths):
    found = []
    for path in paths:
        try:
            text = path.read_text(errors="ignore")
        except (IsADirectoryError, FileNotFoundError):
            continue
        found += [f"{path}: {match.group(0)[:40]}" for match in SECRET.finditer(text)]
    return found


def test_the_pattern_finds_what_it_looks_for(tmp_path):
    leak = tmp_path / "inventory.yml"
    leak.write_text("all:\n  vars:\n    ansible_" + "become_password: hunter2\n")
    key = tmp_path / "id"
    key.write_text("-----BEGIN OPENSSH " + "PRIVATE KEY-----\nabc\n")
    assert len(secrets_in([leak, key])) == 2


def test_no_tracked_file_holds_a_secret():
    assert secrets_in(tracked_files()) == []


def test_the_example_inventory_references_its_key():
    example = (ROOT / "inventory" / "lab.yml.example").read_text()
    assert "ansible_ssh_private_key_file" in example
