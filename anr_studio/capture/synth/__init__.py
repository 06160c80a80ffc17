"""Synthetic captures (``anr-studio synth``): a clothed person who is not the coarse body, tracked with noise."""

from anr_studio.capture.synth.appearance import Identity
from anr_studio.capture.synth.contact_sheet import contact_sheet
from anr_studio.capture.synth.generate import SynthConfig, generate_capture

__all__ = ["Identity", "SynthConfig", "contact_sheet", "generate_capture"]
