"""data.person_crop: training crops centred on the person's bounding box (jittered), with matching intrinsics."""

import numpy as np

from anr_studio.train.augment import crop_image, person_centre, sample_view
from anr_studio.train.data import FrameDataset
from anr_studio.train.presets import preset


def test_person_centre_is_the_bounding_box_centre():
    mask = np.zeros((100, 120), np.uint8)
    mask[20:60, 80:90] = 255
    assert person_centre(mask) == (40.0, 85.0)
    assert person_centre(np.zeros((8, 8), np.uint8)) is None


def test_a_person_crop_holds_the_person_at_every_scale_and_jitter():
    mask = np.zeros((128, 128), np.uint8)
    mask[30:75, 95:110] = 255  # a small person near the right edge
    centre = person_centre(mask)
    rng = np.random.default_rng(0)
    for _ in range(50):
        f, scaled, offset = sample_view(rng, (128, 128), 64, (0.75, 2.0), centre)
        crop = crop_image(mask, scaled, offset, 64)
        cy, cx = centre[0] * f - offset[0], centre[1] * f - offset[1]
        assert 16 - 1 <= cy <= 48 + 1 and 16 - 1 <= cx <= 48 + 1  # within a quarter crop of the middle
        assert crop[int(cy), int(cx)] > 127


def test_the_dataset_centres_crops_on_the_person_when_asked(captures):
    from anr_studio.capture import Capture

    cap = Capture(captures[0])
    config = preset("tiny").with_overrides(["data.resolution=32", "data.person_crop=true", "data.rescale_min=1",
                                            "data.rescale_max=1"]).data
    person = FrameDataset([cap], config)
    anywhere = FrameDataset([cap], preset("tiny").with_overrides(["data.resolution=32"]).data)
    covered = [float(d[(0, 0, seed, False)]["mask"].float().mean()) for d in (person, anywhere) for seed in range(20)]
    assert np.mean(covered[:20]) > np.mean(covered[20:])
