"""Synthetic captures (``anr-studio synth``): a clothed person who is not the coarse body, tracked with noise."""
