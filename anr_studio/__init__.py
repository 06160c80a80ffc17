"""ANR Studio: Articulated Neural Rendering (Raj et al., CVPR 2021) as a desktop avatar studio."""

__version__ = "0.1.0"
