"""Writes the valid files the fuzz cases start from: a capture, an avatar, a run with checkpoints,
body model files (SMPL .npz and .pkl, a saved body), a painted mask and a training config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tests.fuzz.targets import Seeds

# The tiny preset shrunk to a few milliseconds a step on the CPU.
SMALL = ["data.resolution=48", "data.workers=0", "data.batch_size=2", "data.cache_in_memory=false",
         "model.texture.size=16", "model.r1.depth=3", "model.r1.base_channels=4", "model.r1.max_channels=8",
         "model.r2.depth=3", "model.r2.base_channels=4", "model.r2.max_channels=8",
         "model.discriminator.num_scales=1", "model.discriminator.num_layers=2",
         "model.discriminator.base_channels=4", "optim.preview_every=0", "optim.log_every=1"]


def _capture(path: Path, identity: str) -> Path:
    from anr_studio.capture import CaptureWriter

    h = w = 16
    K = np.array([[20.0, 0, 8], [0, 20.0, 8], [0, 0, 1]], np.float32)
    rng = np.random.default_rng(0)
    with CaptureWriter(path, identity, h, w, 30, betas=np.zeros(10), camera=(K, np.eye(3), [0, 0, 3])) as wr:
        for i in range(6):
            wr.append(rng.integers(0, 255, (h, w, 3), np.uint8), mask=rng.integers(0, 255, (h, w), np.uint8),
                      pose=rng.normal(0, 0.1, (24, 3)), transl=rng.normal(0, 0.1, 3))
        wr.set_split([0, 1, 2, 3], [4, 5])
        wr.set_keyframes([0, 2], [0.4, 0.7])
        wr.set_truth(pose=np.zeros((6, 24, 3)), transl=np.zeros((6, 3)))
    return path


def write_seeds(folder: Path) -> Seeds:
    """Returns the seed files written into ``folder`` (and a trainer to resume from checkpoints)."""
    import cv2

    from anr_studio.avatar import Avatar
    from anr_studio.model import build_renderer, build_textures
    from anr_studio.train.presets import preset
    from anr_studio.train.trainer import Trainer
    from tests.body.synthetic import box_body, save_npz, save_pkl, smpl_arrays
    from tests.train.helpers import tiny_body, write_tiny_capture

    capture = _capture(folder / "capture.h5", "carol")
    other = _capture(folder / "victim.h5", "mallory")
    victim = folder / "victim.bin"
    victim.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 200)

    config = preset("tiny").with_overrides(SMALL + ["optim.steps=2", "optim.checkpoint_every=1"])
    body = box_body()
    torch.manual_seed(0)
    renderer = build_renderer(config.model, config.renderer)
    textures = build_textures(2, config.model.texture)
    K = [[20.0, 0, 8], [0, 20.0, 8], [0, 0, 1]]
    camera = {"K": K, "R": np.diag([1.0, -1.0, -1.0]).tolist(), "t": [0.0, 0.9, 3.0]}
    avatar = Avatar(renderer, {"alice": textures[0].texture[0], "bob": textures[1].texture[0]}, body,
                    meta={"config": config.to_dict(), "image_size": [16, 16], "step": 2},
                    betas={"alice": np.zeros(body.num_betas, np.float32), "bob": np.zeros(body.num_betas, np.float32)},
                    cameras={"alice": camera, "bob": camera})
    avatar_path = avatar.save(folder / "avatar.anr")

    tiny = tiny_body()
    caps = [str(write_tiny_capture(folder / f"{n}.h5", n, tiny, seed=i)) for i, n in enumerate(("alice", "bob"))]
    write_tiny_capture(folder / "dave.h5", "dave", body, seed=3, body_model="box")  # for fitting on the avatar's body
    run = folder / "run"
    trainer = Trainer(config, caps, run, device="cpu", body=tiny)
    trainer.run()

    body_file = folder / "body.safetensors"
    body.save(body_file)
    arrays = smpl_arrays()
    smpl_npz = save_npz(folder / "smpl.npz", arrays)
    smpl_pkl = save_pkl(folder / "smpl.pkl", arrays)
    mask = folder / "mask.png"
    cv2.imwrite(str(mask), (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8))
    return Seeds(folder=folder, capture=capture, other_capture=other, victim=victim, avatar=avatar_path, body=body,
                 body_file=body_file, smpl_npz=smpl_npz, smpl_pkl=smpl_pkl, mask=mask, config=config.to_dict(),
                 run=run, trainer=trainer)
