"""Fixtures of the multi-host test lab (tests/lab/up.sh): bridge rzbr0 + namespace hosts rzlg1..N."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

LAB_DIR = Path(__file__).resolve().parent
LAB_KEY = "/var/lib/rightsize-lab/id_ed25519"
TARGET_ADDR = "10.88.0.1"
SSH_OPTS = [
    "-i", LAB_KEY,
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=5",
    "-o", "LogLevel=ERROR",
]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "lab: needs root; uses the multi-host lab of tests/lab/up.sh (namespaces + real SSH)"
    )


@dataclass(frozen=True)
class LabHost:
    name: str  # namespace name == hostname == inventory name
    addr: str


@dataclass(frozen=True)
class Lab:
    hosts: tuple  # LabHost, in index order
    inventory: Path
    target_addr: str = TARGET_ADDR

    def ssh(self, host, command, check=True, timeout=30):
        """Run a shell command on a lab host over real SSH with the lab key."""
        return subprocess.run(
            ["ssh", *SSH_OPTS, f"root@{host.addr}", command],
            capture_output=True, text=True, timeout=timeout, check=check,
        )


@pytest.fixture(scope="session")
def lab():
    """Bring the lab up (idempotent) and describe it. Teardown leaves it up on purpose:
    other lab tests reuse it and the lead's suite runs tests/lab/down.sh at the very end."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (network namespaces, a bridge, iptables, sshd)")
    n = int(os.environ.get("RIGHTSIZE_LAB_HOSTS", "2"))
    proc = subprocess.run(
        [str(LAB_DIR / "up.sh")], capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"tests/lab/up.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    hosts = tuple(LabHost(f"rzlg{i}", f"10.88.0.{10 + i}") for i in range(1, n + 1))
    return Lab(hosts=hosts, inventory=LAB_DIR / ".state" / "inventory.yml")


@pytest.fixture(scope="session")
def lab_provisioned(lab):
    """Provision the lab hosts once per suite (Locust on each loadgen host); the playbooks under
    test then skip their provisioning plays, as everywhere in the suite (playbooks_kit)."""
    from playbooks_kit import ansible_playbook

    result = ansible_playbook("playbooks/provision.yml", inventory=lab.inventory, provision=True)
    if result.returncode != 0:
        pytest.fail(f"provisioning the lab failed:\n{result.stdout[-3000:]}")
    return lab
