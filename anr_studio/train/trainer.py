"""Returns a trained avatar: the ANR training loop (split optimization, multi-identity, GAN, data-parallel);
``stop_event`` / ``pause_event`` are checked once per step, ``lock`` is held during a step (previews take it)."""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

from anr_studio.body import load_body
from anr_studio.fileio import on_stop_signals, unlock_folder
from anr_studio.model import ANRLoss, MultiScaleDiscriminator, TextureConfig, build_renderer, build_textures
from anr_studio.model.images import from_pixels, to_pixels
from anr_studio.model.unet import graphed_norms
from anr_studio.render import PerspectiveCamera
from anr_studio.train import state as train_state
from anr_studio.train.callbacks import Callback, StepInfo
from anr_studio.train.checkpoint import save_checkpoint
from anr_studio.train.config import ADAM_BETAS, TrainConfig
from anr_studio.train.data import (FrameDataset, FramePools, StepBatches, available_cores, ignore_stop_signals, open_captures,
                                    stored_refined_poses)
from anr_studio.train.distributed import (DistInfo, all_reduce_max, average_gradients, broadcast_from_main, init_distributed,
                                          shutdown)
from anr_studio.train.gan_watch import DiscriminatorWatch
from anr_studio.train.nan_guard import BadStepCounter, nonfinite_flag
from anr_studio.avatar.forward import body_maps, grid_jitter, run_renderer
from anr_studio.train.region_mix import RegionMixer, region_masks, region_mix_loss
from anr_studio.train.rundir import prepare_run_dir, write_run_info
from anr_studio.train.step_graph import StepGraphs

if TYPE_CHECKING:
    from anr_studio.train.fit import Fitting

logger = logging.getLogger(__name__)

# Devices where bf16 autocast and channels_last apply (when the config asks).
# The CPU has both too, but they rarely pay off there; tests add "cpu" to cover the path.
FAST_PATH_DEVICES = ("cuda",)
# Devices where optim.cuda_graph replays the step's compute from graphs; elsewhere the same path
# (static inputs, copied outputs) runs uncaptured, which is how tests cover it on the CPU.
GRAPH_DEVICES = ("cuda",)
GRAPH_WARMUP = 3
"""Eager steps per graph key before its capture (cudnn autotuning, lazy Adam state)."""
GRID_JITTER = 0.02
"""Half-width of the uniform noise added to foreground UV coordinates (the paper's)."""
REPORT_EVERY_S = 2.0
"""Seconds of wall time after which a step reports even between ``optim.log_every`` steps (slow steps, a CPU)."""


class Trainer:
    """Trains the renderer, one neural texture per capture and the discriminator.

    ``out``: the run folder (`anr_studio.train.rundir`); ``body``: instead of the captures'; ``resume``: from
    the latest checkpoint; ``fitting``: only new textures against a frozen renderer (no avatar file written)."""

    def __init__(self, config: TrainConfig, captures: Sequence[str], out: str | Path, *, device: str | None = None,
                 resume: bool = False, callbacks: Sequence[Callback] = (), body: torch.nn.Module | None = None,
                 body_path: str | None = None, warn: Callable[[str], None] | None = None,
                 fitting: Fitting | None = None) -> None:
        config.validate()
        self.config, self.fitting = config, fitting
        self.warn = warn or logger.warning
        self.out = Path(out)
        self.callbacks = list(callbacks)
        self.stop_event, self.pause_event, self.lock = threading.Event(), threading.Event(), threading.Lock()
        device_type = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type
        self.dist: DistInfo = init_distributed(device_type)
        self.device = torch.device(f"cuda:{self.dist.local_rank}" if device_type == "cuda" else device_type)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.capture_paths = [str(Path(p).resolve()) for p in captures]  # recorded; messages name them as given
        self._call("on_phase", "opening the captures")
        self.captures = open_captures([str(p) for p in captures])
        self.identities = list(fitting.names) if fitting else [c.identity for c in self.captures]
        if self.dist.is_main:
            prepare_run_dir(self.out, resume)
        first = self.captures[0]
        self._call("on_phase", "loading the body model")
        self.body = body.to(self.device) if body is not None else load_body(
            body_path, model_id=first.body_model_id, device=self.device, source=first.path.name)
        self.step, self.train_time = 0, 0.0
        self.bad_steps = BadStepCounter(config.optim.max_bad_steps, self.warn)
        self._gan_watch = DiscriminatorWatch(config.optim.log_every, self.warn)
        self._side_stream: torch.cuda.Stream | None = None
        ckpt = train_state.checked_checkpoint(self) if resume else None  # a wrong run says so before VGG19 loads
        self._call("on_phase", "building the model")
        self._build_models()
        if ckpt is not None:
            train_state.resume(self, ckpt)
        elif not resume and self.dist.is_main:
            write_run_info(self.out, {"format": "anr-run", "captures": self.capture_paths, "identities": self.identities,
                                      "renderer": config.renderer, "config": config.to_dict()})
        self._build_data()

    def _build_models(self) -> None:
        c, dev, fit = self.config, self.device, self.fitting
        torch.manual_seed(c.optim.seed)
        if fit is None:
            self.renderer = build_renderer(c.model, c.renderer).to(dev)
            self.textures = build_textures(len(self.captures), c.model.texture).to(dev)
        else:
            self.renderer = fit.renderer.eval().requires_grad_(False)
            texture = TextureConfig(int(fit.texture.shape[0]), int(fit.texture.shape[-1]))
            self.textures = build_textures(len(self.captures), texture).to(dev)
            with torch.no_grad():
                for t in self.textures:
                    t.texture.copy_(fit.texture[None])
        # What the generator's updates train besides the drawn texture (nothing when fitting).
        self._renderer_params = list(self.renderer.parameters()) if fit is None else []
        self.loss = ANRLoss(c.loss).to(dev)
        if self.loss.fallback_reason and self.dist.is_main:
            self.warn(self.loss.fallback_reason)
        # A discriminator no generator term listens to would only cost time (and raise DiscriminatorWatch's alarms).
        wanted = self.loss.uses_discriminator
        self.disc = MultiScaleDiscriminator.from_config(c.model.discriminator).to(dev) if wanted else None
        self.cuda = dev.type == "cuda"
        fast = dev.type in FAST_PATH_DEVICES
        self.autocast = fast and c.optim.bf16
        self.channels_last = fast and c.optim.channels_last
        if self.channels_last:
            self.renderer.to(memory_format=torch.channels_last)
            if self.disc is not None:
                self.disc.to(memory_format=torch.channels_last)
        # Fused Adam reads a device-side "found_inf" flag, so a NaN step is skipped without a
        # host sync (CUDA; the CPU has fused kernels too, which keeps one code path tested).
        self.fused = c.optim.fused_adam
        # Graphs need the sync-free NaN guard (fused Adam).
        graphed = c.optim.cuda_graph and dev.type in GRAPH_DEVICES and self.fused
        self._graphs = StepGraphs(dev, GRAPH_WARMUP) if graphed else None
        # Under torchrun the graphed step averages every gradient itself with explicit all-reduces
        # (captured with the step: NCCL collectives replay from graphs, DDP's reducer does not);
        # otherwise DDP does it (the CPU's gloo, graphs off). The ranks' collectives line up because
        # StepBatches gives every rank the same identity and step kind at each step (same graph).
        self._sync_grads = graphed and self.dist.enabled
        fused = {"fused": True, "capturable": self.cuda and graphed} if self.fused else {}

        def adam(params: Any, lr: float) -> torch.optim.Adam:
            return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, **fused)

        self.opt_renderer = adam(self._renderer_params, c.optim.lr_renderer) if self._renderer_params else None
        # One optimiser for all textures: Adam skips parameters whose grad is None, so the identities
        # not drawn in a step keep both their values and their moment estimates.
        self.opt_texture = adam(self.textures.parameters(), c.optim.lr_texture)
        self.opt_disc = adam(self.disc.parameters(), c.optim.lr_discriminator) if self.disc is not None else None
        # The discriminator's gradients are always averaged explicitly (never DDP): its one pass
        # per step serves two backward calls (ANRLoss.joint), which DDP's reducer does not allow.
        self._renderer_fwd = self.renderer
        if self.dist.enabled:
            broadcast_from_main([self.renderer if self._sync_grads else None, self.disc], self.dist)
        if self.dist.enabled and not self._sync_grads and self._renderer_params:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self._renderer_fwd = DDP(self.renderer, device_ids=[self.dist.local_rank] if self.cuda else None)
        self.mixer = None
        if c.loss.region_mix > 0 and len(self.captures) >= 2:
            self.mixer = RegionMixer(region_masks(self.body, c.model.texture.size).to(dev), len(self.captures), c.optim.seed)

    def _build_data(self) -> None:
        c = self.config
        self._call("on_phase", "preparing the training frames")
        h, w = self.captures[0].image_size
        if max(h, w) * c.data.rescale_max < c.data.resolution and self.dist.is_main:
            self.warn(f"captures are {h}x{w}, smaller than the {c.data.resolution}² training crops even at the largest "
                      f"rescale: most of every crop is padding (use --set data.resolution=... or a smaller preset)")
        self.pools = FramePools.from_captures(self.captures, warn=self.warn if self.dist.is_main else (lambda m: None))
        keyframes_first = self.fitting.keyframe_steps if self.fitting is not None else 0
        self.sampler = StepBatches(self.pools, c.data, c.optim, self.step, self.dist.rank, self.dist.world,
                                   keyframes_first)
        # Stored in the run folder: a resume reads them instead of fitting again.
        poses = [stored_refined_poses(self.body, cap, c.data.refine_poses, self.out, write=self.dist.is_main,
                                      progress=lambda done, total, who=who: self._call("on_pose_fit", who, done, total))
                 for cap, who in zip(self.captures, self.identities)] if c.data.refine_poses else None
        self.dataset = FrameDataset(self.captures, c.data, poses=poses)
        # More worker processes than cores only contend with the training step (and torch warns).
        workers = min(c.data.workers, available_cores())
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, num_workers=workers,
            pin_memory=self.cuda, persistent_workers=False, prefetch_factor=4 if workers else None,
            worker_init_fn=ignore_stop_signals,
            # Its own generator: iter() would otherwise draw from the global one, which the step uses
            # and a resumed run would draw it at another step than an unbroken one.
            generator=torch.Generator().manual_seed(c.optim.seed))

    def request_stop(self) -> None:
        """Asks the loop to stop after the current step (it then checkpoints and exports)."""
        self.stop_event.set()

    def set_paused(self, paused: bool) -> None:
        """Pauses or resumes training between steps."""
        (self.pause_event.set if paused else self.pause_event.clear)()

    def _prepare(self, batch: dict[str, Any], step: int) -> dict[str, Any]:
        """Returns the batch on the device as network inputs: images in [-1, 1], jittered UVs, body maps."""
        dev = self.device
        b = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
        frame, background = from_pixels(b["frame"]), from_pixels(b["background"])
        mask = b["mask"].unsqueeze(1).float().div_(255)
        size = tuple(frame.shape[-2:])
        camera = PerspectiveCamera(b["K"], b["R"], b["t"])
        maps = body_maps(self.body, b["pose"], b["betas"], b["transl"], camera, size)
        generator = torch.Generator(device=dev).manual_seed(
            int(np.random.default_rng([self.config.optim.seed, step, 13, self.dist.rank]).integers(2**62)))
        uv = grid_jitter(maps.uv, GRID_JITTER, generator)
        if self.channels_last:
            frame, background = (x.contiguous(memory_format=torch.channels_last) for x in (frame, background))
        prepared = {"frame": frame, "background": background, "mask": mask, "uv": uv, "normals": maps.normals,
                    "body_mask": maps.mask}
        if self.mixer is not None:
            textures = [t.texture for t in self.textures]
            prepared.update(self.mixer.inputs(step, int(batch["identity"][0]), textures, uv))
        return prepared

    def _prepare_ahead(self, batch: dict[str, Any], step: int) -> dict[str, Any] | None:
        """Returns the prepared batch computed on a side CUDA stream (its host syncs overlap the previous step), or None."""
        if not (self.cuda and self.config.optim.overlap_data):
            return None
        if self._side_stream is None:
            self._side_stream = torch.cuda.Stream(self.device)
            # Once: the body's buffers were copied to the GPU on the main stream.
            self._side_stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self._side_stream):
            return self._prepare(batch, step)

    def _apply(self, optimizer: torch.optim.Optimizer, bad: torch.Tensor) -> None:
        if self.fused:
            # Fused Adam skips the update (and undoes its step count) on the device; it wants a
            # 0-dim flag, as GradScaler passes.
            optimizer.found_inf = bad.reshape(())
            optimizer.step()
        elif not bool(bad):
            optimizer.step()

    def train_step(self, batch: dict[str, Any], prepared: dict[str, Any] | None = None
                   ) -> tuple[dict[str, torch.Tensor], torch.Tensor, int, bool]:
        """Returns (loss terms, bad (1,) 1.0 if skipped for NaN/Inf, identity, texture updated?) of step ``self.step``;
        ``prepared``: the batch from `_prepare_ahead`; with ``optim.cuda_graph`` the compute replays a graph."""
        c = self.config
        p = prepared if prepared is not None else self._prepare(batch, self.step)
        if prepared is not None:
            main = torch.cuda.current_stream(self.device)
            main.wait_stream(self._side_stream)
            for t in prepared.values():
                t.record_stream(main)  # keep the allocator from reusing them while the main stream reads
        identity = int(batch["identity"][0])
        update_texture = bool(batch["keyframe_step"][0]) or not c.optim.split_optimization
        if self._graphs is None:
            terms, bad = self._compute(p, identity, update_texture)
        else:
            with graphed_norms():  # free launches: the Triton norm kernels win inside graphs
                terms, bad = self._graphs((identity, update_texture), lambda q: self._compute(q, identity, update_texture), p)
        return terms, bad, identity, update_texture

    def _compute(self, p: dict[str, torch.Tensor], identity: int, update_texture: bool
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Returns (loss terms, bad (1,)) after one generator + discriminator update on ``p``, without host sync."""
        c = self.config
        texture = self.textures[identity]
        self._zero_grads()
        # No cast cache: under graphs cached bf16 weights must not outlive a capture, and eager the
        # discriminator's two calls would share each cached weight cast, summing their weight
        # gradients in bf16 (a graphed step sums them in float32, so the two would drift apart).
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast, cache_enabled=False):
            out = run_renderer(self._renderer_fwd, texture, p["uv"], p["normals"], texture_grad=update_texture)
            args = (out, p["frame"], p["mask"], p["background"])
            if self.disc is None:
                total, terms = self.loss(*args, p["body_mask"])
                d_loss = None
            else:  # one discriminator pass serves both updates (see ANRLoss.joint)
                total, d_loss, terms = self.loss.joint(*args, self._judge, p["normals"], p["body_mask"])
            if "mix_weight" in p:
                mix = region_mix_loss(self._render_first(p), texture.texture, out, p)
                terms["region_mix"] = mix.detach()
                total = total + c.loss.region_mix * mix
        tex_params = list(texture.parameters()) if update_texture else []
        params = self._renderer_params + tex_params
        total.backward(inputs=params, retain_graph=d_loss is not None)
        # One all-reduce for renderer and texture (graphed step), or the texture's alone (DDP did the renderer's).
        synced = params if self._sync_grads else tex_params
        if synced:
            average_gradients(synced, self.dist)
        bad = nonfinite_flag(params, total)
        if self.dist.enabled:  # every rank must take the same branch
            bad = all_reduce_max(bad, self.dist)
        if d_loss is not None:
            # Before the generator's update: its step would bump the version of tensors this graph saved.
            self._discriminator_step(d_loss, bad)
        if self.opt_renderer is not None:
            self._apply(self.opt_renderer, bad)
        if update_texture:
            self._apply(self.opt_texture, bad)
        if self._graphs is not None:  # gradients are step scratch: under a graph they live in the graphs' pool
            self._zero_grads()
        return terms, bad

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Returns the optimisers in use by name ("renderer", "texture", "discriminator")."""
        opts = {"renderer": self.opt_renderer, "texture": self.opt_texture, "discriminator": self.opt_disc}
        return {name: opt for name, opt in opts.items() if opt is not None}

    def _zero_grads(self) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)

    def _render_first(self, p: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], Any]:
        """Returns render(neural image (b,C,H,W)) -> RenderOutput of the renderer on the first b frames' normals."""
        def render(neural: torch.Tensor) -> Any:
            normals = p["normals"][:neural.shape[0]]
            if self.channels_last:
                neural = neural.contiguous(memory_format=torch.channels_last)
                normals = normals.contiguous(memory_format=torch.channels_last)
            return self._renderer_fwd(neural, normals)
        return render

    def _judge(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Returns the discriminator's outputs for its input ``x``: bf16 under autocast (its first convolution
        would cast it anyway; the coarser scales' average pooling runs on half the bytes), channels_last when tuned."""
        if self.autocast:
            x = x.to(torch.bfloat16)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.disc(x)

    def _discriminator_step(self, d_loss: torch.Tensor, generator_bad: torch.Tensor) -> None:
        disc_params = list(self.disc.parameters())
        d_loss.backward(inputs=disc_params)
        if self.dist.enabled:
            average_gradients(disc_params, self.dist)
        # A skipped generator step skips the discriminator too: both stay at their last good state.
        bad = torch.maximum(nonfinite_flag(disc_params, d_loss), generator_bad)
        if self.dist.enabled:
            bad = all_reduce_max(bad, self.dist)
        self._apply(self.opt_disc, bad)

    def _call(self, hook: str, *args: Any) -> None:
        if not self.dist.is_main:  # callbacks report and write files: rank 0 only
            return
        for cb in self.callbacks:
            try:
                getattr(cb, hook)(self, *args)
            except Exception as exc:  # a broken callback must never kill training
                self.warn(f"callback {type(cb).__name__}.{hook} failed: {exc!r}")

    def _preview(self, batch: dict[str, Any]) -> None:
        try:
            with self.lock, torch.no_grad():
                p = self._prepare({k: v[:1] for k, v in batch.items()}, self.step)
                identity = int(batch["identity"][0])
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                    out = run_renderer(self.renderer, self.textures[identity], p["uv"], p["normals"], texture_grad=False)
                blended = self.loss.blend(out, p["background"], p["body_mask"])
                images = {name: to_pixels(image[0].detach()).cpu().numpy()
                          for name, image in (("truth", p["frame"]), ("render", out.rgb), ("composite", blended))}
        except Exception as exc:  # previews are best effort
            self.warn(f"preview at step {self.step} failed: {exc!r}")
            return
        self._call("on_preview", self.step, images)

    def _should_stop(self) -> str | None:
        o = self.config.optim
        reason = o.end_reason(self.step, self.train_time)
        if reason == "done":  # every rank reaches the last step together
            return reason
        if self.stop_event.is_set():
            reason = "stopped"
        if self.dist.enabled:
            # Every rank must stop at the same step; agreeing costs a host sync, so ranks
            # compare notes only every log_every steps.
            if self.step % o.log_every:
                return None
            anyone = bool(all_reduce_max(torch.tensor([float(reason is not None)], device=self.device), self.dist))
            if anyone and reason is None:
                reason = "stopped"
        return reason

    def run(self) -> str:
        """Trains until ``optim.steps``, the time budget or a stop; returns why it ended. Always checkpoints and
        (unless fitting) writes ``avatar.anr`` at the end; AnrError after ``optim.max_bad_steps`` NaN/Inf steps in a row."""
        o = self.config.optim
        self._call("on_start")
        images_since, report_time = 0, 0.0
        first_step, last_report = self.step + 1, time.monotonic()
        data = iter(self.loader)
        batch, ahead = None, None
        # SIGTERM and SIGHUP (`kill`, `timeout`, a closed terminal) stop the loop as `request_stop` does: a flag read
        # between steps, which no library code can swallow as it can an exception raised mid-step.
        with on_stop_signals(lambda *_: self.request_stop()):
            try:
                while True:
                    reason = self._should_stop()
                    if reason:
                        break
                    while self.pause_event.is_set() and not self.stop_event.is_set():
                        time.sleep(0.05)
                    t0 = time.perf_counter()
                    if batch is None:
                        batch = next(data)
                        ahead = self._prepare_ahead(batch, self.step)
                    with self.lock:
                        terms, bad, identity, key_step = self.train_step(batch, ahead)
                        self.bad_steps.add(self.step + 1, bad)
                        self.step += 1
                    done_batch, batch, ahead = batch, None, None
                    if self.step < o.steps and self._side_stream is not None:
                        # Rasterize the next batch while the GPU still works on this step.
                        batch = next(data)
                        ahead = self._prepare_ahead(batch, self.step)
                    regular = self.step % o.log_every == 0 or self.step == o.steps
                    # Rank 0 also reports its first step and, between regular reports, once REPORT_EVERY_S passed: a slow
                    # step (a CPU) shows at once. The NaN check keeps the regular steps, where all ranks make it together.
                    report = regular or self.dist.is_main and (
                        self.step == first_step or time.monotonic() - last_report >= REPORT_EVERY_S)
                    if regular or not self.fused:
                        self.bad_steps.check()  # reads the flags: a host sync, so only now and then on CUDA
                    if self.cuda and report:
                        torch.cuda.synchronize(self.device)
                    dt = time.perf_counter() - t0
                    self.train_time += dt
                    report_time += dt
                    images_since += len(done_batch["index"]) * self.dist.world
                    if report:
                        info = StepInfo(step=self.step, total_steps=o.steps, losses={k: float(v) for k, v in terms.items()},
                                        images_per_s=images_since / max(report_time, 1e-9), elapsed_s=self.train_time,
                                        eta_s=self._eta(), identity=identity, keyframe_step=key_step, skipped=bool(bad))
                        images_since, report_time = 0, 0.0
                        if self.dist.is_main:
                            self._call("on_step", info)
                            if regular:  # its window counts regular reports
                                self._gan_watch.update(self.step, info.losses)
                        last_report = time.monotonic()
                    if o.preview_every and self.step % o.preview_every == 0 and self.dist.is_main:
                        self._preview(done_batch)
                    if self.step % o.checkpoint_every == 0 and self.step < o.steps:
                        self.save_checkpoint()
                self.bad_steps.check()
            except KeyboardInterrupt:
                reason = "stopped"
            except BaseException:
                self._call("on_end", "error")
                raise
            finally:
                # Ends the loader's workers now: they ignore stop signals, so an error's exit could not end them.
                data = None  # noqa: F841
        self.save_checkpoint()
        if self.fitting is None:
            self.export_avatar()
        self._call("on_end", reason)
        return reason

    def close(self) -> None:
        """Releases the step graphs and leaves the process group (if any); call once, after training."""
        if self._graphs is not None:
            self._graphs.release()  # graphs holding NCCL collectives would block the group's teardown
        shutdown(self.dist)
        unlock_folder(self.out)

    def _eta(self) -> float:
        o = self.config.optim
        per_step = self.train_time / max(self.step, 1)
        eta = (o.steps - self.step) * per_step
        if o.time_budget_s > 0:
            eta = min(eta, max(o.time_budget_s - self.train_time, 0.0))
        return eta if math.isfinite(eta) else math.nan

    def save_checkpoint(self) -> Path | None:
        """Writes a checkpoint of the current step (rank 0) and returns its path."""
        if not self.dist.is_main:
            return None
        path = save_checkpoint(self.out, self.step, *train_state.collect(self))
        self._call("on_checkpoint", path)
        return path

    def export_avatar(self) -> Path | None:
        """Writes ``avatar.anr`` (renderer + textures + metadata) into the run folder (rank 0)."""
        if not self.dist.is_main:
            return None
        return train_state.export_avatar(self)
