"""shipped_path: the built-in body, motions, UV masks and the demo avatar are found in a checkout and in an
installed package laid out as the wheel lays it out (anr_studio/resources, anr_studio/models)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import anr_studio.fileio as fileio
from anr_studio.fileio import shipped_path

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkout_reads_its_own_folders():
    assert shipped_path("resources", "body", "anr_body.safetensors") == ROOT / "resources" / "body" / "anr_body.safetensors"
    assert shipped_path("resources", "body", "anr_body.safetensors").is_file()
    assert shipped_path("models", "demo.anr").is_file()
    assert sorted(p.name for p in shipped_path("resources", "motions").glob("*.npz"))[:1] == ["aist_demo.npz"]


def test_an_unknown_folder_is_refused():
    with pytest.raises(ValueError, match="resources' or 'models'"):
        shipped_path("tests")


def test_an_installed_package_finds_its_data_through_importlib_resources(tmp_path):
    # The wheel's layout: site/anr_studio/{__init__.py, fileio.py, resources/..., models/...}, no pyproject.toml.
    site = tmp_path / "site"
    pkg = site / "anr_studio"
    (pkg / "resources" / "body").mkdir(parents=True)
    (pkg / "models").mkdir()
    (pkg / "__init__.py").write_text("")
    shutil.copy(fileio.__file__, pkg / "fileio.py")
    (pkg / "resources" / "body" / "anr_body.safetensors").write_bytes(b"body")
    (pkg / "models" / "demo.anr").write_bytes(b"avatar")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from anr_studio.fileio import shipped_path;"
        "print(shipped_path('resources', 'body', 'anr_body.safetensors').read_text());"
        "print(shipped_path('models', 'demo.anr'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == ["body", str(pkg / "models" / "demo.anr")]
