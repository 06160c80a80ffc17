"""Camera conventions: OpenCV axes, principal point, weak perspective, orbit helper, batching, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from anr_studio.errors import AnrError
from anr_studio.render import PerspectiveCamera, WeakPerspectiveCamera, orbit_camera


def _rotation_y(degrees):
    a = math.radians(degrees)
    return torch.tensor([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])


def test_point_on_optical_axis_lands_on_principal_point():
    K = torch.tensor([[500.0, 0.0, 321.5], [0.0, 480.0, 239.25], [0.0, 0.0, 1.0]])
    R = _rotation_y(30.0)
    t = torch.tensor([0.1, -0.2, 2.0])
    camera = PerspectiveCamera(K, R, t)
    # World points on the optical axis: camera centre + s * (third row of R).
    points = camera.centers[0] + torch.tensor([[0.5], [1.0], [4.0]]) * R[2]
    pixels, depth = camera.project(points.unsqueeze(0))
    torch.testing.assert_close(pixels[0], torch.tensor([[321.5, 239.25]]).expand(3, 2), atol=1e-3, rtol=0)
    torch.testing.assert_close(depth[0], torch.tensor([0.5, 1.0, 4.0]), atol=1e-5, rtol=0)


def test_project_follows_opencv_axes():
    K = torch.tensor([[100.0, 0.0, 50.0], [0.0, 100.0, 40.0], [0.0, 0.0, 1.0]])
    camera = PerspectiveCamera(K, torch.eye(3), torch.zeros(3))
    pixels, depth = camera.project(torch.tensor([[[0.1, 0.2, 2.0], [-0.3, 0.0, 1.0]]]))
    # x right, y down: +x goes right of cx, +y goes below cy; pixel = K x / z.
    torch.testing.assert_close(pixels[0], torch.tensor([[55.0, 50.0], [20.0, 40.0]]))
    torch.testing.assert_close(depth[0], torch.tensor([2.0, 1.0]))


def test_weak_perspective_projection():
    camera = WeakPerspectiveCamera(scale=torch.tensor([10.0, 20.0]), offset=torch.tensor([[5.0, 6.0], [0.0, 1.0]]))
    points = torch.tensor([[[1.0, 2.0, 3.0]], [[0.5, -0.5, -1.0]]])
    pixels, depth = camera.project(points)
    torch.testing.assert_close(pixels, torch.tensor([[[15.0, -14.0]], [[10.0, 11.0]]]))
    torch.testing.assert_close(depth, torch.tensor([[-3.0], [1.0]]))
    assert camera.batch_size == 2 and camera[1].batch_size == 1
    torch.testing.assert_close(camera[1].scale, torch.tensor([20.0]))


def test_cropped_cameras_project_into_the_shrunk_crop():
    points = torch.tensor([[[0.1, 0.9, 0.2], [-0.3, 1.4, -0.1]]]).repeat(2, 1, 1)
    origin = torch.tensor([[40.0, 10.0], [-5.0, 30.0]])
    for camera in (orbit_camera([0.0], [10.0], 3.0, image_size=(256, 256)), WeakPerspectiveCamera(150.0, [128.0, 200.0])):
        pixels = camera.project(points)[0]
        cropped = camera.cropped(origin, 4)
        assert cropped.batch_size == 2
        torch.testing.assert_close(cropped.project(points)[0], (pixels - origin[:, None]) / 4)
        torch.testing.assert_close(cropped.project(points)[1], camera.project(points)[1])


@pytest.mark.parametrize("azimuth,elevation", [(0.0, 0.0), (45.0, 30.0), (-120.0, -15.0), (10.0, 90.0), (200.0, -90.0)])
def test_orbit_camera_looks_at_target(azimuth, elevation):
    target = torch.tensor([0.1, 0.9, -0.2])
    camera = orbit_camera(azimuth, elevation, 2.5, target=target, image_size=(240, 320), fov_deg=45)
    pixels, depth = camera.project(target.view(1, 1, 3))
    torch.testing.assert_close(pixels[0, 0], torch.tensor([160.0, 120.0]), atol=1e-3, rtol=0)
    torch.testing.assert_close(depth[0, 0], torch.tensor(2.5), atol=1e-5, rtol=0)
    R = camera.R[0]
    torch.testing.assert_close(R @ R.T, torch.eye(3), atol=1e-6, rtol=0)
    assert torch.det(R) == pytest.approx(1.0, abs=1e-5)
    assert float((camera.centers[0] - target).norm()) == pytest.approx(2.5, abs=1e-5)
    # Vertical field of view: the focal length puts the image's top edge at fov/2 above the axis.
    assert float(camera.K[0, 1, 1]) == pytest.approx(120.0 / math.tan(math.radians(22.5)), rel=1e-5)


def test_orbit_camera_orientation():
    target = torch.tensor([0.0, 0.9, 0.0])
    front = orbit_camera(0.0, 0.0, 3.0, target=target, image_size=(100, 100))
    assert float(front.centers[0, 2]) > 2.9  # in front of a body facing +z
    pixels, _ = front.project(torch.tensor([[[0.2, 0.9, 0.0], [0.0, 1.1, 0.0]]]))
    right, up = pixels[0]
    assert float(right[0]) > 50.0  # the body's left (+x) is on the image's right, as a viewer sees it
    assert float(up[1]) < 50.0  # world up is image up
    assert float(orbit_camera(60.0, 0.0, 3.0, target=target).centers[0, 0]) > 0.0  # azimuth moves towards +x
    high = orbit_camera(0.0, 40.0, 3.0, target=target)
    assert float(high.centers[0, 1]) > 0.9
    batch = orbit_camera(torch.tensor([0.0, 90.0, 180.0]), 0.0, 3.0, target=target)
    assert batch.batch_size == 3
    torch.testing.assert_close(batch.centers[2], torch.tensor([0.0, 0.9, -3.0]), atol=1e-5, rtol=0)


def test_camera_batching_indexing_and_device_moves():
    camera = orbit_camera(torch.tensor([0.0, 30.0]), 10.0, 2.0)
    assert camera.batch_size == 2
    assert camera[1].batch_size == 1 and torch.equal(camera[1].R[0], camera.R[1])
    moved = camera.to("cpu", dtype=torch.float64)
    assert moved.K.dtype == torch.float64
    # A batch-1 K is shared by a batch of poses.
    shared = PerspectiveCamera(camera.K[:1], camera.R, camera.t)
    assert shared.K.shape == (2, 3, 3)


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: PerspectiveCamera(torch.eye(3)[:2], torch.eye(3), torch.zeros(3)), "K has shape"),
        (lambda: PerspectiveCamera(torch.eye(3), torch.eye(3), torch.zeros(4)), "t has shape"),
        (lambda: PerspectiveCamera(torch.eye(3), torch.full((3, 3), float("nan")), torch.zeros(3)), "R contains NaN"),
        (lambda: PerspectiveCamera(torch.eye(3).expand(2, 3, 3), torch.eye(3).expand(3, 3, 3), torch.zeros(3)), "batches"),
        (lambda: WeakPerspectiveCamera(torch.tensor([0.0]), torch.zeros(1, 2)), "scale"),
        (lambda: WeakPerspectiveCamera(torch.tensor([1.0]), torch.zeros(1, 3)), "offset has shape"),
        (lambda: orbit_camera(0.0, 0.0, -1.0), "distance"),
        (lambda: orbit_camera(0.0, 0.0, 2.0, fov_deg=0.0), "fov_deg"),
        (lambda: orbit_camera(0.0, 0.0, 2.0, image_size=(0, 4)), "image_size"),
        (lambda: orbit_camera(float("nan"), 0.0, 2.0), "azimuth_deg"),
        (lambda: PerspectiveCamera(torch.eye(3), torch.eye(3), torch.zeros(3)).project(torch.zeros(4, 3)), "points has shape"),
    ],
)
def test_bad_camera_inputs_raise_anr_error(build, match):
    with pytest.raises(AnrError, match=match):
        build()
