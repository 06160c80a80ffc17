"""The README is true: its Quickstart runs top to bottom as written (at tiny sizes), and its system packages
are the ones CI installs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from anr_studio import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Tiny sizes for the test; everything else runs as written.
SHRINK = {"--size": "32", "--frames": "4", "--orbit": "2"}
EXTRA = {
    "body": ["--size", "32"],
    "render": ["--frames", "2"],
    "synth": ["--size", "64", "--quiet"],
    "train": ["--preset", "tiny", "--steps", "2", "--device", "cpu", "--no-progress"],
    "eval": ["--device", "cpu", "--max-frames", "2"],
    "fit": ["--steps", "2", "--quiet"],
}


def quickstart_commands() -> list[list[str]]:
    """Returns the Quickstart's commands as argument lists (comments and blank lines dropped)."""
    block = README.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [shlex.split(line, comments=True) for line in block.splitlines()]
    return [c for c in commands if c]


def shrunk(argv: list[str]) -> list[str]:
    """Returns the command's arguments at test sizes (after the program name)."""
    args = list(argv[1:])
    for i, arg in enumerate(args[:-1]):
        if arg in SHRINK:
            args[i + 1] = SHRINK[arg]
    # Later options win in argparse, so the test's own are appended.
    return args + EXTRA.get(args[0] if args else "", [])


def test_the_quickstart_runs_top_to_bottom(tmp_path, monkeypatch):
    commands = quickstart_commands()
    assert [c[0] for c in commands] == ["anr-studio"] * len(commands)
    assert any(c[1:2] == ["train"] for c in commands) and any(c[1:2] == ["fit"] for c in commands)
    (tmp_path / "models").symlink_to(ROOT / "models")
    monkeypatch.chdir(tmp_path)
    for argv in commands:
        args = shrunk(argv)
        try:
            code = cli.main(args)
        except SystemExit as stop:  # --help
            code = stop.code
        assert code == 0, f"README Quickstart: `{shlex.join(argv)}` exited with {code}"
    for name in ["body.png", "orbit.mp4", "dance.mp4", "tryon.anr", "a.h5", "runs/a/avatar.anr", "a.mp4",
                 "metrics.json", "b.h5", "runs/a/avatar-b.anr"]:
        assert (tmp_path / name).is_file(), f"the Quickstart did not write {name}"


def _apt_packages(text: str) -> list[set[str]]:
    text = text.replace("\\\n", " ")
    found = []
    for match in re.finditer(r"apt-get install ([^\n&>|]*)", text):
        found.append({w for w in match.group(1).split() if not w.startswith("-")})
    return found


def test_readme_installs_the_system_packages_ci_installs():
    (ci,) = _apt_packages((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    readme = _apt_packages(README)
    assert readme, "the README names no apt-get install"
    for packages in readme:
        assert packages == ci, f"README apt list differs from .ci/run: missing {ci - packages}, extra {packages - ci}"


def test_the_cpu_preset_claim_matches_the_preset():
    from anr_studio.train.presets import preset

    assert "`cpu` (64² crops centred on the person, stops after 10 minutes" in README
    assert (preset("cpu").data.resolution, preset("cpu").optim.time_budget_s) == (64, 600)
