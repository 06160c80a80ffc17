"""Benchmark: model-only training step throughput (images/s) of the ANR renderer, per preset and variant.

    python benchmarks/bench_model.py --device cuda --json bench_model.json --markdown bench_model.md
    python benchmarks/bench_model.py --device cpu --presets tiny --steps 2 --warmup 1   # smoke test

One step = sample the neural texture through a UV image, R1 + R2 forward, ANRLoss (pixel, mask,
TV, feature matching + adversarial through the multi-scale discriminator; VGG19 with random
weights when ``--vgg``), backward, Adam steps, then the discriminator step. Inputs are synthetic
(a random UV image with a background border), so data loading and rasterization are left out:
this bounds what the trainer can reach. Variants, all measured in the same run:

- ``eager-fp32``: plain eager, float32, NCHW (the baseline)
- ``bf16-cl``: bf16 autocast + channels_last
- ``bf16-cl-batchnorm``: the same with BatchNorm instead of InstanceNorm in the U-Nets
- ``bf16-cl-compile``: bf16 + channels_last + torch.compile of the renderer and discriminator
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anr_studio.model import (  # noqa: E402
    ANRLoss,
    LossConfig,
    ModelConfig,
    MultiScaleDiscriminator,
    NeuralTexture,
    build_renderer,
    count_parameters,
)
from anr_studio.model.losses import gan_discriminator_loss  # noqa: E402
from anr_studio.model.discriminator import discriminator_input  # noqa: E402
from anr_studio.model.vgg import VGG19Features  # noqa: E402

RESOLUTION = {"paper": 1024, "fast": 512, "tiny": 64}
VARIANTS = ("eager-fp32", "bf16-cl", "bf16-cl-batchnorm", "bf16-cl-compile")


def synthetic_batch(batch: int, size: int, device: torch.device, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Returns uv (B,H,W,2) with a background border, normals, frame, mask, background."""
    uv = torch.rand(batch, size, size, 2, generator=gen, device=device) * 2 - 1
    border = size // 8
    uv[:, :border] = -2.0
    uv[:, :, :border] = -2.0
    mask = (uv[..., :1] > -1.5).permute(0, 3, 1, 2).float()
    normals = torch.nn.functional.normalize(torch.randn(batch, 3, size, size, generator=gen, device=device), dim=1) * mask
    frame = torch.rand(batch, 3, size, size, generator=gen, device=device) * 2 - 1
    background = torch.rand(1, 3, size, size, generator=gen, device=device).expand(batch, -1, -1, -1) * 2 - 1
    return {"uv": uv, "normals": normals, "frame": frame, "mask": mask, "background": background}


def run_variant(preset: str, variant: str, batch: int, steps: int, warmup: int, device: torch.device,
                use_vgg: bool) -> dict[str, object]:
    """Returns {"images_per_s", "step_ms", "peak_mem_gb", ...} for one preset/variant."""
    config = ModelConfig.preset(preset)
    if variant.endswith("batchnorm"):
        config = dataclasses.replace(config, r1=dataclasses.replace(config.r1, norm="batch"),
                                     r2=dataclasses.replace(config.r2, norm="batch"))
    size = RESOLUTION[preset]
    tuned = variant != "eager-fp32"
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    renderer = build_renderer(config, "anr").to(device)
    texture = NeuralTexture.from_config(config.texture).to(device)
    disc = MultiScaleDiscriminator.from_config(config.discriminator).to(device)
    vgg = VGG19Features().to(device) if use_vgg else None
    loss_fn = ANRLoss(LossConfig(feature=10.0 if use_vgg else 0.0), vgg=vgg).to(device)
    if tuned and cuda:
        renderer.to(memory_format=torch.channels_last)
        disc.to(memory_format=torch.channels_last)
    fused = {"fused": True} if cuda else {}
    opt_g = torch.optim.Adam(list(renderer.parameters()) + list(texture.parameters()), lr=1e-4, betas=(0.5, 0.999), **fused)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=(0.5, 0.999), **fused)
    r_fwd, d_fwd = renderer, disc
    if variant.endswith("compile"):
        r_fwd, d_fwd = torch.compile(renderer), torch.compile(disc)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=tuned)
    gen = torch.Generator(device=device).manual_seed(0)
    data = synthetic_batch(batch, size, device, gen)

    def step() -> None:
        opt_g.zero_grad(set_to_none=True)
        disc.requires_grad_(False)
        with autocast:
            neural = texture.sample(data["uv"])
            normals = data["normals"]
            if tuned and cuda:
                neural = neural.contiguous(memory_format=torch.channels_last)
                normals = normals.contiguous(memory_format=torch.channels_last)
            out = r_fwd(neural, normals)
            total, _ = loss_fn(out, data["frame"], data["mask"], data["background"], d_fwd, normals)
        total.backward()
        opt_g.step()
        disc.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        with autocast:
            blended = loss_fn.blend(out, data["background"]).detach()
            both = torch.cat([discriminator_input(data["frame"], normals), discriminator_input(blended, normals)])
            outputs = d_fwd(both)
            real = [[f[:batch] for f in s] for s in outputs]
            fake = [[f[batch:] for f in s] for s in outputs]
            d_loss = gan_discriminator_loss(real, fake, "lsgan")
        d_loss.backward()
        opt_d.step()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    try:
        for _ in range(warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        elapsed = time.perf_counter() - start
    except torch.OutOfMemoryError:
        return {"preset": preset, "variant": variant, "batch": batch, "resolution": size, "error": "out of memory"}
    result = {
        "preset": preset, "variant": variant, "batch": batch, "resolution": size,
        "images_per_s": round(batch * steps / elapsed, 2), "step_ms": round(1000 * elapsed / steps, 2),
        "renderer_params": count_parameters(renderer), "discriminator_params": count_parameters(disc),
        "vgg": use_vgg,
    }
    if cuda:
        result["peak_mem_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", nargs="+", default=["fast", "paper"], choices=sorted(RESOLUTION))
    parser.add_argument("--batch", type=int, nargs="+", help="batch per preset (default: fast 8, paper 4, tiny 2)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--vgg", action="store_true", help="include the VGG19 feature loss (random weights, timing only)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--markdown", type=Path, help="write a markdown table here")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    default_batch = {"paper": 4, "fast": 8, "tiny": 2}
    batches = args.batch or [default_batch[p] for p in args.presets]
    if len(batches) == 1:
        batches = batches * len(args.presets)
    results = []
    for preset, batch in zip(args.presets, batches):
        for variant in args.variants:
            if variant.endswith("compile") and device.type != "cuda":
                continue
            res = run_variant(preset, variant, batch, args.steps, args.warmup, device, args.vgg)
            print(json.dumps(res), flush=True)
            results.append(res)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    lines = [f"Model-only training step ({name}, torch {torch.__version__}, synthetic inputs, "
             f"{'with' if args.vgg else 'without'} VGG19)", "",
             "| preset | resolution | batch | variant | images/s | step ms | peak GB |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['preset']} | {r['resolution']} | {r['batch']} | {r['variant']} | "
                     f"{r.get('images_per_s', r.get('error'))} | {r.get('step_ms', '-')} | {r.get('peak_mem_gb', '-')} |")
    table = "\n".join(lines)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"device": name, "torch": torch.__version__, "results": results}, indent=2))
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
