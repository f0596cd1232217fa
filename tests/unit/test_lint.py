"""ansible-lint's production profile over every playbook and role."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ansible_lint_production_profile_is_clean():
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-lint"), "--profile", "production", "--nocolor"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
