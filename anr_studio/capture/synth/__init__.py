"""Synthetic captures: a clothed person who is not the coarse body, tracked with noise.

``generate_capture(out, SynthConfig(...))`` writes one (``anr-studio synth``);
``contact_sheet(capture)`` shows frames with the tracked coarse body's outline.
Modules: appearance (per-seed identity, procedural albedo), person (the dressed fine body),
shading (rasterize + shade + antialias), background, noise (tracking noise, retiming).
"""

from anr_studio.capture.synth.appearance import Identity
from anr_studio.capture.synth.contact_sheet import contact_sheet, outside_share
from anr_studio.capture.synth.generate import SynthConfig, generate_capture

__all__ = ["Identity", "SynthConfig", "contact_sheet", "generate_capture", "outside_share"]
