"""Names, shapes and dtypes of the capture file (HDF5), version 1.

Layout (N frames of H x W pixels, K shape coefficients)::

    attrs       format="anr-capture", version=1, identity=str, fps=float (+ free extra attrs)
    frames      (N,H,W,3) uint8, one frame per chunk, compressed
    masks       (N,H,W)   uint8 soft foreground 0..255 (optional; mask extraction may add it)
    background  (H,W,3)   uint8 clean background plate
    camera/K    (N,3,3) or (3,3) float32   intrinsics, pixels, pixel centres at integer + 0.5
    camera/R    (N,3,3) or (3,3) float32   world-to-camera rotation (OpenCV: x right, y down, z forward)
    camera/t    (N,3)   or (3,)  float32   world-to-camera translation, metres
    body/pose   (N,24,3) float32 SMPL-order axis-angle;  body/betas (K,) float32;  body/transl (N,3) float32
    body        attrs: model = "default" or the sha256 of an SMPL-format file
    split/train, split/test      (n,) int64 frame indices (optional, disjoint)
    keyframes   (k,) int64 (optional); keyframe_coverage (k,) float32 cumulative coverage after each
    truth/...   optional noise-free body parameters of synthetic captures (pose (N,24,3),
                transl (N,3), betas (K,), ...) for diagnosis; never used for training
"""

from __future__ import annotations

from anr_studio.body.skeleton import NUM_JOINTS

FORMAT = "anr-capture"
VERSION = 1

FRAMES = "frames"
MASKS = "masks"
BACKGROUND = "background"
CAMERA_K = "camera/K"
CAMERA_R = "camera/R"
CAMERA_T = "camera/t"
POSE = "body/pose"
BETAS = "body/betas"
TRANSL = "body/transl"
SPLIT_TRAIN = "split/train"
SPLIT_TEST = "split/test"
KEYFRAMES = "keyframes"
KEYFRAME_COVERAGE = "keyframe_coverage"
TRUTH = "truth"

# Per-camera-field trailing shape: static (shape) or per frame (N, *shape).
CAMERA_SHAPES = {CAMERA_K: (3, 3), CAMERA_R: (3, 3), CAMERA_T: (3,)}

# Compression of image datasets (frames, masks, background): gzip-1 writes a 256x256 frame in ~5 ms (lzf ~3 ms,
# about as small) but any HDF5 tool reads it (lzf needs h5py's plugin); gzip-4 is slower and no smaller.
IMAGE_COMPRESSION = {"compression": "gzip", "compression_opts": 1}

# Sane limits, checked before anything is allocated: beyond them a file is damaged or forged.
MAX_FRAMES = 1_000_000  # frames in one capture (over nine hours at 30 fps)
MAX_IMAGE_SIDE = 8192  # pixels on each side of a frame (8K video)
MAX_BETAS = 300  # shape coefficients (SMPL-X has 300)
MAX_NAME_LENGTH = 200  # characters of an identity name
MAX_FPS = 1000.0
# Plausible values: SMPL-family shape coefficients stay within a few units of 0, joint angles
# within a few turns, translations within a kilometre; larger values are damage, not people.
MAX_ABS_BETA = 100.0
MAX_ABS_ANGLE = 100.0
MAX_ABS_METRES = 1000.0
