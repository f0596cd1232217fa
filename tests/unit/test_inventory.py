"""The inventories' privileges: sudo on the remote hosts only, SSH host keys checked except in the lab."""
import configparser
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _vars(inventory: Path, host: str) -> dict:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory)])
    found = manager.get_host(host)  # "localhost" not listed: the implicit one delegated tasks use
    return VariableManager(loader=loader, inventory=manager).get_vars(host=found)


def test_the_example_becomes_root_on_remote_hosts_but_not_on_the_controller(tmp_path):
    inventory = tmp_path / "lab.yml"
    shutil.copy(ROOT / "inventory" / "lab.yml.example", inventory)
    for host in ("gpu-box-1", "lg-1", "lg-2"):
        assert _vars(inventory, host).get("ansible_become") is True, host
    groups = _vars(inventory, "lg-1")["group_names"]
    assert {"loadgen", "locust_master"} <= set(groups) and "target" not in groups
    assert _vars(inventory, "gpu-box-1")["group_names"] == ["remote", "target"]
    assert "ansible_become" not in _vars(inventory, "localhost")  # delegate_to: localhost needs no sudo


def test_host_keys_are_checked_except_on_the_lab_hosts():
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    assert config.getboolean("defaults", "host_key_checking", fallback=True) is True
    writer = (ROOT / "tests" / "lab" / "up.sh").read_text()
    assert 'echo "          ansible_host_key_checking: false"' in writer
    assert "StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" in writer
