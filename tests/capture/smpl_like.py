"""An SMPL-like model file for tests: SMPL's conventions (origin near the pelvis, SMPL's mean
neutral rest joints, pelvis about 0.22 m below the origin) with generated vertices.

Nothing here is SMPL's data: the vertices, weights and shape basis are generated around the
public rest-joint positions, so the repository never holds SMPL.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anr_studio.body.skeleton import SMPL_PARENTS
from anr_studio.capture.smpl_convert import SMPL_REST_JOINTS
from tests.body.synthetic import save_npz

PER_JOINT = 6


def smpl_like_arrays(num_betas: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Returns SMPL-format arrays whose regressed rest joints are exactly SMPL_REST_JOINTS at betas = 0.

    Each joint owns PER_JOINT vertices placed symmetrically around it (the regressor averages them);
    the shape basis moves each cluster a little (a few mm per unit beta) so betas matter but slightly.
    """
    rng = np.random.default_rng(seed)
    offsets = rng.normal(scale=0.03, size=(24, PER_JOINT // 2, 3))
    offsets = np.concatenate([offsets, -offsets], axis=1)  # zero mean per joint
    v_template = (SMPL_REST_JOINTS[:, None] + offsets).reshape(-1, 3)
    nv = v_template.shape[0]
    owner = np.repeat(np.arange(24), PER_JOINT)
    weights = np.zeros((nv, 24))
    weights[np.arange(nv), owner] = 1.0
    J_regressor = np.zeros((24, nv))
    J_regressor[owner, np.arange(nv)] = 1.0 / PER_JOINT
    shift = rng.normal(scale=0.003, size=(24, 3, num_betas))
    shapedirs = np.repeat(shift, PER_JOINT, axis=0)
    kintree = np.array([SMPL_PARENTS, list(range(24))], dtype=np.int64)
    kintree[0, 0] = 4294967295
    return {
        "v_template": v_template,
        "f": np.arange(nv - nv % 3).reshape(-1, 3).astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((nv, 3, 207)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
    }


def write_smpl_like(path: Path, seed: int = 0) -> Path:
    """Writes the SMPL-like model as an SMPL-format .npz; returns the path."""
    return save_npz(path, smpl_like_arrays(seed=seed))
