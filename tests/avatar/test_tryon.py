"""Virtual try-on: region masks rasterized from part labels, painted masks, swaps that touch only masked texels."""

import cv2
import numpy as np
import pytest
import torch

from anr_studio.avatar import Avatar
from anr_studio.avatar.tryon import (
    REGIONS,
    export_region_masks,
    load_mask,
    rasterize_uv_faces,
    region_faces,
    region_mask,
    swap_identity,
    swap_textures,
)
from anr_studio.fileio import shipped_path
from anr_studio.body.skeleton import PART_GROUPS, part_indices
from anr_studio.errors import AnrError
from tests.train.helpers import tiny_body


def test_rasterized_triangle_has_the_right_area_and_soft_edges():
    tri = np.array([[[0.25, 0.25], [0.75, 0.25], [0.25, 0.75]]])  # area 1/8 of the unit square
    hard = rasterize_uv_faces(tri, 64, feather=0)
    assert abs(hard.sum() / 64**2 - 0.125) < 0.005
    assert hard[63 - 20, 20] == 1.0 and hard[5, 5] == 0.0  # inside (v up: row = (1 - v) * S) / outside
    soft = rasterize_uv_faces(tri, 64, feather=1.5)
    assert abs(soft.sum() - hard.sum()) / hard.sum() < 0.02  # blur keeps the mass
    edge = ((soft > 0.05) & (soft < 0.95)).sum()
    assert edge > ((hard > 0.05) & (hard < 0.95)).sum()  # and widens the soft band


def test_region_masks_follow_the_part_labels(body):
    size = 64
    uvs = body.face_uvs.numpy()
    parts = body.face_parts.numpy()
    names = body.part_names
    for region in REGIONS:
        if region == "face":  # the box body labels no face
            with pytest.raises(AnrError, match="labels no faces as face"):
                region_mask(body, region, size)
            continue
        mask = region_mask(body, region, size, feather=0.5)
        assert mask.shape == (size, size) and mask.dtype == np.float32 and mask.max() == pytest.approx(1.0)
        inside = region_faces(body, region)
        assert set(parts[inside]) == set(part_indices(names, [p for p in REGIONS[region] if p in names or p in PART_GROUPS])) - ({names.index("face")} if "face" in names else set())
        # Triangle centroids of the region read ~1, those of other parts ~0.
        centroids = uvs.mean(1)
        px = np.clip((centroids[:, 0] * size).astype(int), 0, size - 1)
        py = np.clip(((1 - centroids[:, 1]) * size).astype(int), 0, size - 1)
        values = mask[py, px]
        e1, e2 = uvs[:, 1] - uvs[:, 0], uvs[:, 2] - uvs[:, 0]
        big = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) * size**2 > 8  # not sliver triangles
        assert values[inside & big].min() > 0.9
        assert values[~inside & big].max() < 0.1
    upper, lower = region_mask(body, "upper", size), region_mask(body, "lower", size)
    assert (upper * lower).sum() < 0.01 * upper.sum()


def test_swap_changes_only_masked_texels():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(8, 32, 32, generator=g), torch.rand(8, 32, 32, generator=g)
    mask = np.zeros((32, 32), np.float32)
    mask[4:12, 6:20] = 1.0
    mask[12, 6:20] = 0.25  # a soft edge
    new = swap_textures(a, b, mask)
    zero, one, soft = mask == 0, mask == 1, (mask > 0) & (mask < 1)
    assert torch.equal(new[:, torch.from_numpy(zero)], b[:, torch.from_numpy(zero)])
    assert torch.equal(new[:, torch.from_numpy(one)], a[:, torch.from_numpy(one)])
    torch.testing.assert_close(new[:, 12, 6:20], 0.25 * a[:, 12, 6:20] + 0.75 * b[:, 12, 6:20])
    assert soft.sum() == 14
    with pytest.raises(AnrError, match="mask has shape"):
        swap_textures(a, b, np.zeros((16, 16)))


def test_swap_identity_on_a_trained_avatar(avatar_path, body, tmp_path):
    avatar = Avatar.load(avatar_path, body=body)
    mask = swap_identity(avatar, "alice", "bob", "bob+alice_upper", region="upper", feather=0.5)
    assert avatar.identities[-1] == "bob+alice_upper"
    np.testing.assert_allclose(avatar.identity_betas("bob+alice_upper"), avatar.identity_betas("bob"))
    new, a, b = (avatar.texture(n) for n in ("bob+alice_upper", "alice", "bob"))
    m = torch.from_numpy(mask)
    assert torch.equal(new[:, m == 0], b[:, m == 0]) and torch.equal(new[:, m == 1], a[:, m == 1])
    assert (m == 1).sum() >= 5 and (m > 0).sum() > 40  # small 5x5-texel boxes at S = 32
    with pytest.raises(AnrError, match="already has an identity"):
        swap_identity(avatar, "alice", "bob", "bob+alice_upper", region="upper")
    with pytest.raises(AnrError, match="unknown region"):
        swap_identity(avatar, "alice", "bob", "x", region="socks")
    with pytest.raises(AnrError, match="unknown identity 'eve'"):
        swap_identity(avatar, "eve", "bob", "x", region="upper")


def test_painted_mask_png_and_resampling(tmp_path):
    paint = np.zeros((64, 64), np.uint8)
    paint[16:48, 8:24] = 255
    cv2.imwrite(str(tmp_path / "m.png"), paint)
    messages = []
    m = load_mask(tmp_path / "m.png", 32, warn=messages.append)
    assert m.shape == (32, 32) and m.dtype == np.float32
    assert messages and "64x64, resampled to the texture's 32x32" in messages[0]
    assert m[16, 8] == pytest.approx(1.0) and m[2, 2] == 0.0
    assert abs(m.sum() - paint.sum() / 255 / 4) < 1.0
    same = load_mask(tmp_path / "m.png", 64, warn=messages.append)
    assert len(messages) == 1  # no resampling, no message
    np.testing.assert_array_equal(same, paint / 255.0)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 3] = paint
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    np.testing.assert_array_equal(load_mask(tmp_path / "rgba.png", 64), paint / 255.0)
    with pytest.raises(AnrError, match="mask file not found"):
        load_mask(tmp_path / "none.png", 32)


def test_export_region_masks(body, tmp_path):
    written = export_region_masks(body, 48, tmp_path / "masks")
    assert sorted(written) == sorted(r for r in REGIONS if r != "face")
    img = cv2.imread(str(written["lower"]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (48, 48) and img.dtype == np.uint8
    np.testing.assert_allclose(img / 255.0, region_mask(body, "lower", 48), atol=1 / 255)
    # A body without part labels offers no presets.
    assert export_region_masks(tiny_body(), 16, tmp_path / "none") == {}


SHIPPED_MASKS = shipped_path("resources", "uv_masks")


@pytest.mark.skipif(not SHIPPED_MASKS.is_dir(), reason="no shipped masks")
def test_shipped_masks_match_the_built_in_body():
    from anr_studio.body import BodyModel

    body = BodyModel.default()
    for region in REGIONS:
        shipped = cv2.imread(str(SHIPPED_MASKS / f"{region}.png"), cv2.IMREAD_UNCHANGED)
        assert shipped is not None, f"resources/uv_masks/{region}.png is missing (python -m scripts.build_uv_masks)"
        now = region_mask(body, region, shipped.shape[0])
        # Stale masks (body rebuilt with another UV layout or labels): regenerate with python -m scripts.build_uv_masks
        assert np.abs(shipped / 255.0 - now).mean() < 0.002, region
