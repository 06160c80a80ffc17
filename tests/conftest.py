"""Suite-wide settings. One torch intra-op thread: test tensors are tiny, and on a 2-core CI
machine extra threads only contend (a tiny model step took 0.93 s with 2 threads, 0.065 s with 1).
No test downloads pretrained weights (ANR_OFFLINE=1, inherited by the processes tests start)."""

import os
import subprocess

import pytest
import torch

os.environ["ANR_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (root only), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                                           capture_output=True).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
