"""Writes the try-on region masks of the built-in body, resources/uv_masks/<region>.png (UV layout, 255 = inside).

Run ``python -m scripts.build_uv_masks`` after the body's UV layout or part labels change.
"""

from __future__ import annotations

import argparse

from anr_studio.avatar.tryon import export_region_masks
from anr_studio.body import BodyModel
from anr_studio.fileio import shipped_path


def main(argv: list[str] | None = None) -> int:
    """Writes the masks to resources/uv_masks (or --out); returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(shipped_path("resources", "uv_masks")))
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    written = export_region_masks(BodyModel.default(), args.size, args.out)
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
