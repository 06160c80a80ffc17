"""Per-face viewport colours: the UV checker and an identity's neural texture in PCA false colour."""

import numpy as np
import pytest
import torch

from anr_studio.components.face_colors import checker_face_colors, neural_face_colors
from anr_studio.errors import AnrError


def _random_face_uvs(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.05, 0.95, (n, 1, 2))
    return (centre + rng.uniform(-0.04, 0.04, (n, 3, 2))).astype(np.float32)


def _texture(seed: int, channels: int = 8, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(channels, size, size, generator=g) * 2 - 1


def _tiny_faces(centres) -> np.ndarray:
    """Returns (N,3,2) small triangles around the given (u, v) centres."""
    offsets = np.array([[-0.01, -0.01], [0.01, -0.01], [0.0, 0.01]], np.float32)
    return np.asarray(centres, np.float32)[:, None] + offsets


def test_neural_face_colors_shape_range_and_identity():
    uvs = _random_face_uvs()
    a = neural_face_colors(_texture(1), uvs)
    b = neural_face_colors(_texture(2), torch.from_numpy(uvs))
    assert a.shape == b.shape == (200, 4) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0 and a[:, :3].std() > 0.1
    assert np.all(a[:, 3] == 1.0)
    assert np.abs(a[:, :3] - b[:, :3]).mean() > 0.05  # another identity, other colours
    np.testing.assert_array_equal(a, neural_face_colors(_texture(1), uvs))


def test_neural_face_colors_read_the_texture_as_the_renderer_does():
    """Texture row 0 is v = 1 (grid y = 1 - 2v): only the face at (u, v) = (0.05, 0.95) sits on the marked corner."""
    tex = torch.zeros(8, 32, 32)
    tex[:, :4, :4] = 1.0  # image top-left
    colors = neural_face_colors(tex, _tiny_faces([(0.05, 0.95), (0.05, 0.05), (0.95, 0.95), (0.95, 0.05)] * 5))
    marked, others = colors[0::4, :3], np.concatenate([colors[1::4, :3], colors[2::4, :3], colors[3::4, :3]])
    np.testing.assert_array_equal(others, np.broadcast_to(others[0], others.shape))
    assert np.abs(marked - others[0]).max() > 0.5


def test_neural_face_colors_average_over_the_face():
    """A face across two flat halves of the texture takes a colour between theirs, not either one."""
    tex = torch.zeros(8, 32, 32)
    tex[0, :16] = 1.0  # top half (v > 0.5) differs from the bottom half
    up, down = _tiny_faces([(0.3, 0.8)] * 20), _tiny_faces([(0.3, 0.2)] * 20)
    across = np.array([[[0.5, 0.9], [0.4, 0.9], [0.5, 0.1]]], np.float32)
    colors = neural_face_colors(tex, np.concatenate([up, down, across]))[:, :3]
    channel = np.abs(colors[0] - colors[20]).argmax()
    lo, hi, mid = sorted((colors[0, channel], colors[20, channel])) + [colors[40, channel]]
    assert hi - lo > 0.9 and lo + 0.1 < mid < hi - 0.1


def test_face_colors_reject_bad_shapes():
    with pytest.raises(AnrError, match=r"face_uvs has shape \(4, 2\), expected \(F, 3, 2\)"):
        neural_face_colors(_texture(1), np.zeros((4, 2), np.float32))
    with pytest.raises(AnrError, match=r"neural texture has shape \(32, 32\), expected \(C, S, S\)"):
        neural_face_colors(torch.zeros(32, 32), _random_face_uvs())
    with pytest.raises(AnrError, match="face_uvs"):
        checker_face_colors(np.zeros((4, 3, 3), np.float32))


def test_checker_face_colors_alternate_between_cells():
    uvs = np.array([[[0.01, 0.01]] * 3, [[0.07, 0.01]] * 3, [[0.07, 0.07]] * 3], np.float32)
    colors = checker_face_colors(uvs)
    assert colors.shape == (3, 4)
    assert not np.array_equal(colors[0], colors[1]) and np.array_equal(colors[0], colors[2])


def test_face_pairs_join_faces_through_shared_mesh_edges():
    from anr_studio.components.face_colors import face_pairs

    # A strip of three triangles: 0-1 share edge (1,2), 1-2 share edge (2,3); 0 and 2 share only vertex 2.
    faces = np.array([[0, 1, 2], [2, 1, 3], [2, 3, 4]])
    assert sorted(map(tuple, np.sort(face_pairs(faces), 1))) == [(0, 1), (1, 2)]
    with pytest.raises(AnrError, match=r"faces has shape \(3,\), expected \(F, 3\)"):
        face_pairs(np.array([0, 1, 2]))


def test_smoothing_averages_with_neighbours_and_keeps_a_constant():
    from anr_studio.components.face_colors import smooth_face_features

    pairs = np.array([[0, 1], [1, 2]])
    feats = np.array([[3.0], [0.0], [0.0]], np.float32)
    one = smooth_face_features(feats, pairs, 1)
    np.testing.assert_allclose(one[:, 0], [1.5, 1.0, 0.0])  # (3+0)/2, (0+3+0)/3, (0+0)/2
    np.testing.assert_allclose(smooth_face_features(np.full((3, 2), 0.7, np.float32), pairs, 5), 0.7, rtol=1e-6)


def test_neural_colours_smoothed_over_the_body_have_less_face_to_face_speckle():
    from anr_studio.body import BodyModel
    from anr_studio.components.face_colors import face_pairs

    body = BodyModel.default()
    noise = _texture(3, size=256)  # an untrained texture: all speckle
    rough = neural_face_colors(noise, body.face_uvs)
    smooth = neural_face_colors(noise, body.face_uvs, faces=body.faces, smooth=2)
    pairs = face_pairs(body.faces)
    jump = lambda c: float(np.abs(c[pairs[:, 0], :3] - c[pairs[:, 1], :3]).mean())  # noqa: E731
    assert smooth.shape == rough.shape and jump(smooth) < 0.6 * jump(rough)
    with pytest.raises(AnrError, match="expected 3 like face_uvs"):
        neural_face_colors(noise, body.face_uvs[:3], faces=body.faces, smooth=1)


def test_mask_face_weights_and_tint():
    from anr_studio.components.face_colors import mask_face_weights, tint_face_colors

    face_uvs = np.array([[[0.1, 0.9], [0.3, 0.9], [0.1, 0.7]], [[0.7, 0.1], [0.9, 0.1], [0.9, 0.3]]], np.float32)
    mask = np.zeros((64, 64), np.float32)
    mask[:32, :32] = 1.0  # u < 0.5, v > 0.5: the first face only
    w = mask_face_weights(mask, face_uvs)
    assert w.tolist() == [1.0, 0.0]
    base = np.tile(np.array([[0.5, 0.5, 0.5, 1.0]], np.float32), (2, 1))
    out = tint_face_colors(base, w)
    assert np.allclose(out[1], base[1]) and out[0, 0] > 0.8 and out[0, 2] < 0.3 and out[0, 3] == 1.0
