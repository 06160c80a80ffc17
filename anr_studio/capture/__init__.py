"""Capture files (HDF5): a streaming writer, a random-access reader and validation.

Also here: mask extraction (``masks``), importers (``importers``), keyframe selection
(``keyframes``) and the synthetic capture generator (``synth``).
"""

from anr_studio.capture.reader import Capture
from anr_studio.capture.store import CaptureWriter
from anr_studio.capture.validate import validate

__all__ = ["Capture", "CaptureWriter", "validate"]
