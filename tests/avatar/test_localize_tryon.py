"""Fine-tuning an avatar's renderer for try-on from its own renders (no captures)."""

import torch

from anr_studio.avatar import Avatar
from anr_studio.train.region_mix import localize_renderer


def test_localize_renderer_tunes_the_renderer_in_place_keeps_its_renders_close_and_leaves_it_frozen(avatar_path, body):
    avatar = Avatar.load(avatar_path, body=body)
    before = {k: v.clone() for k, v in avatar.renderer.state_dict().items()}
    torch.manual_seed(0)
    lines = []
    result = localize_renderer(avatar, seconds=4.0, size=32, batch=2, lr=1e-3, log=lines.append)
    assert result["steps"] > 5 and result["keep"] < 0.5
    after = avatar.renderer.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    assert not any(p.requires_grad for p in avatar.renderer.parameters())
