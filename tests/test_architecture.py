"""Architecture rules that keep the studio's layers apart."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    """The contracts in pyproject.toml: only anr_studio.gui imports PySide6, vispy or pyqtgraph; the GUI
    uses the core packages only through components and jobs; each package imports only the layers
    below it (cli, gui, jobs, components, train, avatar, ... errors)."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed; install the dev extra")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_unsafe_loading_in_package():
    """Nothing we ship unpickles user files: no pickle.load and no torch.load without weights_only=True."""
    offenders = []
    for path in (ROOT / "anr_studio").rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "pickle.load(" in line or ("torch.load(" in line and "weights_only=True" not in line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
