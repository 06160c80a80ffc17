"""The model learns: a tiny ANR with its texture fits one synthetic frame, mask included."""

import torch

from anr_studio.model import ANRLoss, ANRRenderer, LossConfig, ModelConfig, build_textures


def test_tiny_anr_overfits_one_frame():
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny")
    renderer, texture = ANRRenderer(config), build_textures(1, config.texture)[0]
    size = 32
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    inside = ((xs / 0.6) ** 2 + (ys / 0.8) ** 2 < 1).float()[None, None]  # an ellipse "body"
    uv = torch.stack([xs, ys], dim=-1)[None].clone()
    uv[inside[:, 0] == 0] = -2.0
    normals = torch.cat([xs[None, None], ys[None, None], torch.ones(1, 1, size, size)], 1) * inside
    background = torch.full((1, 3, size, size), -0.5)
    person = torch.stack([xs, -ys, xs * ys])[None].clamp(-1, 1)
    frame = inside * person + (1 - inside) * background
    loss_fn = ANRLoss(LossConfig(feature=0.0, adversarial=0.0, tv_image=0.0, tv_mask=0.0))
    opt = torch.optim.Adam(list(renderer.parameters()) + list(texture.parameters()), lr=3e-3)
    history = []
    for _ in range(60):
        opt.zero_grad()
        out = renderer(texture.sample(uv), normals)
        total, terms = loss_fn(out, frame, inside, background)
        total.backward()
        opt.step()
        history.append({k: v.item() for k, v in terms.items()})
    first, last = history[0], history[-1]
    assert last["pixel"] < 0.3 * first["pixel"]
    assert last["pixel_coarse"] < 0.3 * first["pixel_coarse"]
    assert last["mask"] < 0.3 * first["mask"]
    with torch.no_grad():
        out = renderer(texture.sample(uv), normals)
    predicted = (out.mask > 0.5).float()
    assert (predicted == inside).float().mean() > 0.95
