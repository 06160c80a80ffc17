"""VGG19 feature extractor for the feature loss (Eq. 5), from torchvision's weights file (`anr_studio.model.weights`)."""

from __future__ import annotations

import os

import torch
from torch import nn

from anr_studio.errors import AnrError
from anr_studio.model.weights import load_weights

VGG19_FILENAME = "vgg19-dcbbe9de.pth"
"""torchvision's VGG19_Weights.IMAGENET1K_V1 file name."""
# pix2pixHD's slices of vgg19.features: ends after relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
_SLICE_ENDS = (2, 7, 12, 21, 30)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """Returns the 5 VGG19 activations relu1_1 .. relu5_1 of an image in [-1, 1] (B, 3, H, W); frozen, ImageNet-normalised."""

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        self.slices = nn.ModuleList(features[start:end] for start, end in zip((0, *_SLICE_ENDS), _SLICE_ENDS))
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":
        """Keeps the extractor in eval mode whatever the caller asks (it is never trained)."""
        return super().train(False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Returns [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1] for ``image`` (B, 3, H, W) in [-1, 1]."""
        x = ((image + 1) * 0.5 - self.mean.to(image.dtype)) / self.std.to(image.dtype)
        outputs = []
        for block in self.slices:
            x = block(x)
            outputs.append(x)
        return outputs


def load_vgg19_features(weights_path: str | os.PathLike | None = None) -> VGG19Features:
    """Returns VGG19Features with ImageNet weights from ``weights_path`` or the torch hub cache; AnrError naming the
    file (and where it was looked for) when absent or unreadable."""
    from torchvision.models import vgg19

    path, state = load_weights(VGG19_FILENAME, weights_path, "VGG19 weights for the feature loss")
    with torch.device("meta"):  # shapes only: the 120M-parameter classifier is never allocated
        features = vgg19(weights=None).features
    expected = set(features.state_dict())
    state = {k[len("features."):]: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}
    if set(state) != expected:
        missing = sorted(expected - set(state))
        raise AnrError(f"{path}: not a VGG19 state dict (missing features.{missing[0] if missing else '?'}), expected torchvision's {VGG19_FILENAME}")
    try:
        features.load_state_dict(state, assign=True)
    except RuntimeError as exc:
        raise AnrError(f"{path}: VGG19 tensors have the wrong shapes, expected torchvision's {VGG19_FILENAME}") from exc
    return VGG19Features(features.float())
