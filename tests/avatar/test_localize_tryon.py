"""Fine-tuning an avatar's renderer for try-on from its own renders (no captures)."""

import torch

from anr_studio.avatar import Avatar
from scripts.localize_tryon import localize_renderer


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


def test_localize_renderer_goes_on_from_given_weights_on_narrow_views_and_reports_checkpoints(avatar_path, body):
    import copy

    avatar = Avatar.load(avatar_path, body=body)
    teacher = {k: v.clone() for k, v in avatar.renderer.state_dict().items()}
    start = copy.deepcopy(avatar.renderer)
    with torch.no_grad():
        for p in start.parameters():
            p.add_(0.01)
    seen = []
    torch.manual_seed(0)
    result = localize_renderer(avatar, seconds=3.0, size=32, batch=2, lr=1e-6, log=lambda _m: None, initial=start,
                               width=16, checkpoint=lambda r, progress: seen.append((r, progress)),
                               checkpoint_every_s=0.0)
    assert result["steps"] >= 2 and len(seen) == result["steps"]
    assert all(r is seen[0][0] and r is not avatar.renderer for r, _ in seen)  # the renderer being tuned
    assert [p["steps"] for _, p in seen] == list(range(1, result["steps"] + 1))
    # With a tiny learning rate the result stays next to the given start, not the teacher it began as.
    after = avatar.renderer.state_dict()
    moved = [k for k in teacher if teacher[k].is_floating_point() and teacher[k].numel() > 1 and "running" not in k]
    assert all(torch.allclose(after[k], start.state_dict()[k], atol=1e-3) for k in moved)
    assert not any(torch.allclose(after[k], teacher[k], atol=5e-3) for k in moved)
