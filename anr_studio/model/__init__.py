"""The ANR model: neural textures, the U-Net renderers (ANR two-/one-stage, DNR), the discriminator, losses."""

from anr_studio.model.config import (RENDERER_KINDS, DiscriminatorConfig, LossConfig, ModelConfig, TextureConfig,
                                     UNetConfig)
from anr_studio.model.discriminator import MultiScaleDiscriminator, discriminator_input
from anr_studio.model.losses import ANRLoss
from anr_studio.model.renderer import ANRRenderer, DNRRenderer, RenderOutput, build_renderer
from anr_studio.model.texture import NeuralTexture, build_textures
from anr_studio.model.unet import UNet

__all__ = [
    "ANRLoss", "ANRRenderer", "DNRRenderer", "DiscriminatorConfig", "LossConfig", "ModelConfig",
    "MultiScaleDiscriminator", "NeuralTexture", "RENDERER_KINDS", "RenderOutput", "TextureConfig", "UNet",
    "UNetConfig", "build_renderer", "build_textures", "discriminator_input",
]
