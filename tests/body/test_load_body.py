"""load_body: the built-in body, a saved body or an SMPL file, checked against the id the data names."""

import pytest

from anr_studio.body import BodyModel, load_body
from anr_studio.errors import AnrError
from tests.body.synthetic import box_body, save_npz, smpl_arrays


def test_builtin_saved_and_smpl_bodies(tmp_path):
    assert load_body() is BodyModel.default() and load_body(model_id="default") is BodyModel.default()
    saved = box_body()
    saved.save(tmp_path / "box.safetensors")
    assert load_body(tmp_path / "box.safetensors", model_id=saved.model_id).num_vertices == saved.num_vertices
    smpl = load_body(save_npz(tmp_path / "smpl.npz", smpl_arrays(num_vertices=50, num_betas=4)))
    assert smpl.num_betas == 4 and len(smpl.model_id) == 64  # an SMPL file's id is its sha256
    assert load_body(tmp_path / "smpl.npz", model_id=smpl.model_id).model_id == smpl.model_id


def test_a_body_other_than_the_one_named_is_refused(tmp_path):
    path = save_npz(tmp_path / "smpl.npz", smpl_arrays(num_vertices=50, num_betas=4))
    with pytest.raises(AnrError, match=r"cap\.h5: body model 0123456789abcdef\.\.\. is not the built-in body"):
        load_body(model_id="0123456789abcdef" * 4, source="cap.h5")
    with pytest.raises(AnrError, match=r"smpl\.npz: body model id .* differs from cap\.h5's default"):
        load_body(path, model_id="default", source="cap.h5")
