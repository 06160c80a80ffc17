"""VGG19 feature loss offline: loading from the hub cache or a path, clear errors, the fallback."""

import pytest
import torch
from torchvision.models.vgg import make_layers

from anr_studio.errors import AnrError
from anr_studio.model import ANRLoss, LossConfig, RenderOutput
from anr_studio.model.losses import feature_loss
from anr_studio.model.vgg import VGG19_FILENAME, VGG19Features, load_vgg19_features

# VGG19's layer layout ("E") with tiny widths: the same slice indices, a few hundred parameters.
SMALL_E = [2, 2, "M", 4, 4, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M"]


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def test_small_random_vgg_feature_loss_runs_offline_and_normalises_like_imagenet():
    torch.manual_seed(0)
    vgg = VGG19Features(make_layers(SMALL_E))
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    feats = vgg(image)
    assert [f.shape[1] for f in feats] == [2, 4, 4, 8, 8]
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    conv = vgg.slices[0][0]
    normalised = ((image + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(feats[0], torch.relu(conv(normalised)))
    pred = image.clone().requires_grad_(True)
    assert feature_loss(pred, image, vgg, [1, 1, 1, 1, 1]).item() == 0.0
    loss = feature_loss(pred + 0.3, image, vgg, [1, 1, 1, 1, 1])
    loss.backward()
    assert loss.item() > 0 and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training


def test_missing_weights_name_the_file(empty_torch_home):
    with pytest.raises(AnrError, match=VGG19_FILENAME) as info:
        load_vgg19_features()
    assert str(empty_torch_home / "hub" / "checkpoints") in str(info.value)
    with pytest.raises(AnrError, match="not found"):
        load_vgg19_features(empty_torch_home / "nowhere.pth")


def test_fallback_leaves_the_term_out_and_says_so(empty_torch_home):
    loss_fn = ANRLoss(LossConfig(feature=10.0))
    assert loss_fn.vgg is None
    assert VGG19_FILENAME in loss_fn.fallback_reason and "training without it" in loss_fn.fallback_reason
    frame, mask, bg = torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8), torch.zeros(1, 3, 8, 8)
    out = RenderOutput(rgb=torch.zeros(1, 3, 8, 8), mask_logits=torch.zeros(1, 1, 8, 8), coarse_rgb=None)
    assert "feature" not in loss_fn(out, frame, mask, bg)[1]


def test_loads_weights_from_the_hub_cache_and_rejects_other_files(empty_torch_home):
    with torch.device("meta"):
        from torchvision.models import vgg19

        shapes = {f"features.{k}": v.shape for k, v in vgg19().features.state_dict().items()}
    state = {k: torch.zeros(s) for k, s in shapes.items()}
    state["features.0.bias"] = torch.full((64,), 0.25)  # relu1_1 of any image is then 0.25
    path = empty_torch_home / "hub" / "checkpoints" / VGG19_FILENAME
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    vgg = load_vgg19_features()
    out = vgg(torch.zeros(1, 3, 32, 32))
    assert torch.all(out[0] == 0.25) and out[4].shape == (1, 512, 2, 2)
    assert ANRLoss(LossConfig()).vgg is not None
    other = empty_torch_home / "other.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, other)
    with pytest.raises(AnrError, match="not a VGG19 state dict"):
        load_vgg19_features(other)
    other.write_bytes(b"not a checkpoint")
    with pytest.raises(AnrError, match="could not be read"):
        load_vgg19_features(other)
