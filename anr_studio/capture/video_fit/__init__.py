"""From a plain video to a capture: keypoints (``models``, ``landmarks``), a fit of the built-in body
(``bodyfit``), person masks, the capture file (``pipeline``)."""
