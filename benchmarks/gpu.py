"""Benchmark t2v at real scale on a GPU: it/s and peak memory per stage, and the hash grids.

Stages: the real stage modules under a Lightning Trainer, over a 4D-fy-size field (static 3D
and dynamic 4D hash grids, 16 levels x 2 features x 2^19 entries each), guided by models of
the hub priors' published architectures with random weights (benchmarks/real_size.py):
zeroscope_v2_576w + SD VAE for the dynamic stage (16 frames at 320x576, VAE backprop on 4),
SD 2.1 base for the static stage and the hybrid steps, the x4 upscaler for SR. Settings are
those of `prior=zeroscope resolution=base schedule=mav3d renderer=default trainer=gpu`: priors
in half precision with PyTorch's SDPA attention (diffusers' default), UNets under no_grad (SDS).
Each stage runs `--warmup` steps, then `--steps` timed ones (time between successive batch
starts, CUDA-synchronised; median), then with --profile 3 profiled ones. Peak memory is
`max_memory_allocated` over the stage, the resident priors included. The occupancy grid is
refreshed once before the stages, as it is after the static stage's warm-up in a real run.

Also measured: the encodings alone (forward, forward+backward of 2^20 points; median of CUDA
event timings) for each backend; the dynamic and SR steps in parts (render forward+backward,
each SDS term alone), to say what limits speed; with --profile, each stage's top GPU kernels
and the share of a step's wall time the GPU is busy.

With `--prior wan` (or `wan_14b`) the video and image roles are Wan 2.1 instead
(`prior=wan`): the published transformer and VAE configs with random weights in bfloat16, the
dynamic stage's clips 17 frames (`resolution=base` asks 16; Wan takes 4k + 1) resized to 480x832,
backprop through the causal VAE encoder (checkpointed), the image role the same model at one
frame, SR the x4 upscaler as before. The 14B's weights alone are reported computed
(parameters x 2 bytes) beside what the run measures.

Usage: python benchmarks/gpu.py [--out benchmarks/results/gpu.json] [--backends triton torch]
       [--encoding-backends triton torch] [--stages static dynamic superres temporal]
       [--steps 20] [--warmup 5] [--profile] [--skip-encodings] [--tiny]
       [--prior zeroscope|wan|wan_14b] [override ...]
  --tiny: toy widths and sizes on whatever device there is (checks the script, in seconds).
  overrides: Hydra overrides of `t2v generate`, e.g. renderer.checkpoint_chunks=true
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import real_size
import torch
from omegaconf import open_dict

from t2v import cli
from t2v.callbacks import RegularizerRamps
from t2v.commands.door import resolved
from t2v.config.generate import GenerateConfig, parse_generate
from t2v.field import HashGridEncoding, tcnn_available
from t2v.generation.training import GuidanceFactory, stage_context
from t2v.priors import (
    DiffusionImagePrior,
    LatentVideoPrior,
    UpscalerSRPrior,
    WanImagePrior,
    WanVideoPrior,
)
from t2v.priors.loading import freeze
from t2v.priors.tiny import save_tiny_clip, save_tiny_t5
from t2v.priors.wan import WanModel
from t2v.render import sample_training_cameras
from t2v.scene import Scene
from t2v.stages import StageSpec
from t2v.stages.base import Guidance
from t2v.stages.stages import STAGE_MODULES
from t2v.text import PromptEncoder
from t2v.text.encoders import TextEncoderSpec

PROMPT = "a corgi running on a beach"
PROFILED_STEPS = 3  # after the timed steps, so the profiler's overhead stays out of the timings
GENRE = "documentary"
REAL = [
    "resolution=base",
    "schedule=mav3d",
    "renderer=default",
    "field=hashgrid",
    "trainer=gpu",
]
TINY = [
    "prior.video.resolution=[32,32]",
    "prior.image.resolution=[32,32]",
    "resolution=tiny",
    "schedule=mav3d",
    "renderer=cpu",
    "field=hashgrid_cpu",
    "trainer=cpu",
]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def allocated_gb(device: torch.device) -> float | None:
    return torch.cuda.memory_allocated(device) / 2**30 if device.type == "cuda" else None


def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def time_calls(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 3):
    """Median seconds of `fn` (CUDA-synchronised), after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        began = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# --- the encodings alone ---------------------------------------------------------------------


def measure_encodings(device: torch.device, backends: list[str], tiny: bool) -> dict[str, Any]:
    points = 2**12 if tiny else 2**20
    results: dict[str, Any] = {"points": points}
    names = [*backends, *(["tcnn"] if tcnn_available() else [])]
    for dims, finest in ((3, 2048), (4, 512)):
        size = {"levels": 4, "log2_table_size": 12} if tiny else {"log2_table_size": 19}
        rows: dict[str, Any] = {}
        x = torch.rand(points, dims, device=device)
        for backend in names:
            encoding = HashGridEncoding(dims, finest_resolution=finest, backend=backend, **size)
            encoding = encoding.to(device)
            upstream = torch.randn(points, encoding.output_dim, device=device)

            def forward(encoding=encoding, x=x) -> None:
                with torch.no_grad():
                    encoding(x)

            def forward_backward(encoding=encoding, x=x, upstream=upstream) -> None:
                encoding.zero_grad(set_to_none=False)
                (encoding(x) * upstream).sum().backward()

            repeats = 3 if tiny else 20
            forward_s = time_calls(forward, device, repeats)
            both_s = time_calls(forward_backward, device, repeats)
            reset_peak(device)
            before = allocated_gb(device)
            forward_backward()
            peak = peak_gb(device)
            rows[backend] = {
                "forward_ms": round(forward_s * 1e3, 3),
                "forward_backward_ms": round(both_s * 1e3, 3),
                "forward_backward_mpoints_per_s": round(points / both_s / 1e6, 2),
                "peak_extra_gb": rounded(peak - before if peak is not None else None),
            }
            del encoding, upstream
            release(device)
        if "torch" in rows:
            base = rows["torch"]["forward_backward_ms"]
            for row in rows.values():
                row["speedup_vs_torch"] = round(base / row["forward_backward_ms"], 2)
        results[f"{dims}d"] = {"finest_resolution": finest, "backends": rows}
    return results


# --- priors of the real architectures --------------------------------------------------------


def build_guidance(
    config: GenerateConfig, device: torch.device, tiny: bool, text_folder: Path
) -> tuple[Guidance, dict[str, Any]]:
    """The preset's three priors (zeroscope's, or Wan's with the x4 upscaler), built in place
    from the published configs (random weights) with the preset's SDS settings and loader
    arguments."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel, UNet3DConditionModel

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    save_tiny_clip(text_folder, hidden_size=real_size.text_width(tiny))
    text = TextEncoderSpec("clip", str(text_folder), local_files_only=True)

    def build(cls: type, config: dict[str, Any]) -> torch.nn.Module:
        with torch.device(device):  # initialise on the device: seconds instead of a minute
            return freeze(cls(**config).to(dtype))

    def scheduler(prediction_type: str = "epsilon") -> Any:
        return DDPMScheduler(**real_size.SD_SCHEDULER, prediction_type=prediction_type)

    preset = config.prior
    assert preset.video is not None and preset.image is not None and preset.sr is not None
    # Each role's loader arguments (resolution, vae_grad_frames, noise_level), as loaded.
    video_node, image_node, sr_node = (
        role.loader.node for role in (preset.video, preset.image, preset.sr)
    )
    where = {"device": device, "dtype": dtype, "text_encoder_spec": text}
    sr = UpscalerSRPrior(
        build(UNet2DConditionModel, real_size.upscaler_unet(tiny)),
        build(AutoencoderKL, real_size.upscaler_vae(tiny)),
        scheduler("v_prediction"),
        scheduler(),
        config=preset.sr.sds,
        noise_level=int(sr_node["noise_level"]),
        **where,
    )
    conditioning = encode(sr, config, device)  # one CLIP for all three, as on the hub
    if preset.video.builds is WanVideoPrior:
        return wan_guidance(config, device, tiny, text_folder.parent, sr, conditioning)
    sd_vae = build(AutoencoderKL, real_size.sd_vae(tiny))
    video = LatentVideoPrior(
        build(UNet3DConditionModel, real_size.zeroscope_unet(tiny)),
        sd_vae,
        scheduler(),
        config=preset.video.sds,
        resolution=tuple(video_node["resolution"]),
        vae_grad_frames=video_node.get("vae_grad_frames"),
        **where,
    )
    image = DiffusionImagePrior(
        build(UNet2DConditionModel, real_size.sd21_unet(tiny)),
        scheduler(),
        vae=sd_vae,
        config=preset.image.sds,
        resolution=tuple(image_node["resolution"]),
        **where,
    )
    guidance = Guidance(video, conditioning, image, conditioning, sr, conditioning)
    sizes = {
        name: sum(p.numel() for p in module.parameters())
        for name, module in (
            ("zeroscope_unet", video.unet),
            ("sd21_unet", image.unet),
            ("upscaler_unet", sr.unet),
            ("sd_vae", sd_vae),
            ("upscaler_vae", sr.vae),
        )
    }
    return guidance, {"parameters": sizes, "dtype": str(dtype).removeprefix("torch.")}


def encode(prior: Any, config: GenerateConfig, device: torch.device) -> Any:
    encoder = PromptEncoder.for_prior(prior, device=device)
    conditioning = encoder.encode(PROMPT, config.genre)
    encoder.release()
    return conditioning


def keep_float32(module: torch.nn.Module) -> torch.nn.Module:
    """The modules a class keeps in float32 under half precision, as its from_pretrained does."""
    kept = getattr(module, "_keep_in_fp32_modules", None) or []
    for name, child in module.named_modules():
        if any(part in kept for part in name.split(".")):
            child.float()
    return module


def wan_guidance(
    config: GenerateConfig,
    device: torch.device,
    tiny: bool,
    scratch: Path,
    sr: UpscalerSRPrior,
    sr_cond: Any,
) -> tuple[Guidance, dict[str, Any]]:
    """Wan 2.1 (the preset's size) as video and image priors, the x4 upscaler as SR."""
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    preset = config.prior
    assert preset.video is not None and preset.image is not None
    node = preset.video.loader.node
    size = "14b" if "14B" in str(node["model"]) else "1.3b"
    save_tiny_t5(scratch / "umt5", hidden_size=real_size.wan_text_width(tiny), umt5=True)
    text = TextEncoderSpec("umt5", str(scratch / "umt5"), local_files_only=True)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in bfloat16: the 14B never exists in float32
    try:
        with torch.device(device):
            transformer = WanTransformer3DModel(**real_size.wan_transformer(size, tiny))
            vae = AutoencoderKLWan(**real_size.wan_vae(tiny))
    finally:
        torch.set_default_dtype(previous)
    wan = WanModel(
        freeze(keep_float32(transformer.to(dtype))), freeze(vae.to(dtype)), flow_shift=3.0
    )
    video = WanVideoPrior(
        wan,
        text_encoder_spec=text,
        config=preset.video.sds,
        resolution=tuple(node["resolution"]),
        shift=node.get("shift"),
        checkpoint_vae=bool(node.get("checkpoint_vae", True)),
        device=device,
        dtype=dtype,
    )
    image = WanImagePrior(video, preset.image.sds)
    conditioning = encode(video, config, device)
    guidance = Guidance(video, conditioning, image, conditioning, sr, sr_cond)
    counts = {
        f"wan_{size}_transformer": sum(p.numel() for p in transformer.parameters()),
        "wan_vae": sum(p.numel() for p in vae.parameters()),
        "upscaler_unet": sum(p.numel() for p in sr.unet.parameters()),
    }
    with torch.device("meta"):
        big = WanTransformer3DModel(**real_size.wan_transformer("14b"))
    computed = {
        "wan_14b_transformer_parameters": sum(p.numel() for p in big.parameters()),
        "wan_14b_transformer_bf16_gb": round(sum(p.numel() for p in big.parameters()) * 2 / 1e9, 1),
    }
    about = {"parameters": counts, "dtype": str(dtype).removeprefix("torch."), "computed": computed}
    return guidance, about


# --- stages ----------------------------------------------------------------------------------


class StepTimer(pl.Callback):
    """Seconds between successive batch starts (the whole step: forward, backward, optimiser,
    hooks), CUDA-synchronised, of steps [warmup, warmup + steps): profiled steps come after."""

    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup = warmup
        self.steps = steps
        self.device = device
        self.seconds: list[float] = []
        self._last: float | None = None
        self._step = 0

    def _mark(self) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        if self._last is not None and self.warmup < self._step <= self.warmup + self.steps:
            self.seconds.append(now - self._last)
        self._last = now
        self._step += 1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._mark()

    def on_train_end(self, trainer, pl_module) -> None:
        self._mark()


class KernelProfile(pl.Callback):
    """torch.profiler over the last steps of a stage: the top GPU kernels, and how much of the
    steps' wall time the GPU was busy (kernel time / wall time; low means the host limits)."""

    def __init__(self, first_step: int, top: int = 12) -> None:
        self.first_step = first_step
        self.top = top
        self.profiler: torch.profiler.profile | None = None
        self.began = 0.0
        self.steps = 0
        self.summary: dict[str, Any] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.first_step and self.profiler is None:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self.profiler = torch.profiler.profile(activities=activities)
            self.profiler.__enter__()
            synchronize(pl_module.device)
            self.began = time.perf_counter()
        if self.profiler is not None:
            self.steps += 1

    def on_train_end(self, trainer, pl_module) -> None:
        if self.profiler is None:
            return
        synchronize(pl_module.device)
        wall = time.perf_counter() - self.began
        self.profiler.__exit__(None, None, None)
        # Kernels only: user annotations (Lightning's optimizer step wraps the whole training
        # step in its closure) would count the same kernels again.
        kernels = [
            e
            for e in self.profiler.key_averages()
            if e.device_type != torch.autograd.DeviceType.CPU
            and not getattr(e, "is_user_annotation", False)
        ]
        busy = sum(e.self_device_time_total for e in kernels) / 1e6
        ranked = sorted(kernels, key=lambda e: e.self_device_time_total, reverse=True)
        self.summary = {
            "profiled_steps": self.steps,
            "wall_seconds_per_step": round(wall / max(self.steps, 1), 4),
            "kernel_seconds_per_step": round(busy / max(self.steps, 1), 4),
            "gpu_busy_fraction": round(busy / wall, 3) if wall > 0 else None,
            "top_kernels": [
                {
                    "name": e.key[:90],
                    "ms_per_step": round(e.self_device_time_total / 1e3 / max(self.steps, 1), 2),
                    "share_of_kernel_time": round(e.self_device_time_total / 1e6 / busy, 3)
                    if busy > 0
                    else None,
                    "calls_per_step": e.count // max(self.steps, 1),
                }
                for e in ranked[: self.top]
            ],
        }


def run_stage(
    config: GenerateConfig,
    spec: StageSpec,
    scene: Scene,
    guidance: Guidance,
    device: torch.device,
    steps: int,
    warmup: int,
    profile: bool,
) -> dict[str, Any]:
    # The stage as a run builds it, handed the priors built here instead of loaded ones.
    context = stage_context(config, spec, scene, GuidanceFactory(config))
    module = STAGE_MODULES[spec.name](dataclasses.replace(context, guidance=lambda _: guidance))
    timer = StepTimer(warmup, steps, device)
    callbacks: list[pl.Callback] = [timer, RegularizerRamps(spec.regularizers)]
    profiler = KernelProfile(first_step=warmup + steps) if profile else None
    if profiler is not None:
        callbacks.append(profiler)
    trainer_args = dict(config.trainer)
    trainer_args.update(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        log_every_n_steps=10**6,
    )
    trainer = pl.Trainer(
        **trainer_args,
        max_steps=warmup + steps + (PROFILED_STEPS if profile else 0),
        max_epochs=-1,
        callbacks=callbacks,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        default_root_dir=tempfile.gettempdir(),
    )
    reset_peak(device)
    result: dict[str, Any] = {"frames": spec.frames, "render": [spec.height, spec.width]}
    try:
        trainer.fit(module)
    except torch.OutOfMemoryError as error:
        result["error"] = f"out of memory: {str(error).splitlines()[0][:160]}"
    else:
        median = statistics.median(timer.seconds)
        result.update(
            it_per_s=round(1.0 / median, 3),
            step_seconds_median=round(median, 4),
            step_seconds_spread=[round(min(timer.seconds), 4), round(max(timer.seconds), 4)],
            timed_steps=len(timer.seconds),
        )
    result["peak_gb"] = rounded(peak_gb(device))
    if profiler is not None and profiler.summary:
        result["profile"] = profiler.summary
    del trainer, module
    release(device)
    return result


def stage_parts(
    spec: StageSpec, scene: Scene, guidance: Guidance, device: torch.device
) -> dict[str, float]:
    """A stage's step in parts, each timed alone: the render (forward+backward) and each SDS
    term (prior forward, VAE backward to the pixels), on the stage's clip size."""
    # Lightning hands the modules back on the CPU after fit.
    field = scene.field.to(device)
    renderer = scene.renderer.to(device)
    generator = torch.Generator().manual_seed(0)
    sampled = sample_training_cameras(
        1, spec.frames, spec.width, spec.height, spec.cameras, generator, device
    )
    times = torch.linspace(0, 1, spec.frames, device=device)[None]
    clip = torch.rand(1, spec.frames, 3, spec.height, spec.width, device=device)
    low_res = torch.rand(1, spec.frames, 3, spec.base_height, spec.base_width, device=device)

    def render() -> None:
        renderer.render(field, sampled.cameras, times).rgb.mean().backward()

    def sds(prior: Any, cond: Any, frames: torch.Tensor, *extra: torch.Tensor):
        def run() -> None:
            pixels = frames.clone().requires_grad_(True)
            noise = torch.Generator().manual_seed(1)  # CPU, as the stages use
            prior.sds(pixels, cond, *extra, generator=noise).loss.backward()

        return run

    parts = {"render_forward_backward": render}
    if spec.name == "dynamic":
        parts["video_sds"] = sds(guidance.video, guidance.video_cond, clip)
        parts["image_sds_1_frame"] = sds(guidance.image, guidance.image_cond, clip[:, :1])
    elif spec.name in ("superres", "temporal") and guidance.sr is not None:
        parts["sr_sds"] = sds(guidance.sr, guidance.sr_cond, clip, low_res)
        parts["base_video_sds"] = sds(guidance.video, guidance.video_cond, low_res)
    elif spec.name == "static":
        parts["image_sds"] = sds(guidance.image, guidance.image_cond, clip)
    seconds = {name: round(time_calls(run, device, repeats=5), 4) for name, run in parts.items()}
    field.zero_grad(set_to_none=True)
    return seconds


def compose(overrides: list[str]) -> GenerateConfig:
    """The typed configuration of one `t2v generate` job, as the command's door parses it."""
    cfg = cli.compose("generate", [f"prompt={PROMPT}", f"genre={GENRE}", "logger=none", *overrides])
    with open_dict(cfg):
        cfg.pop("hydra")  # outside a Hydra app its job number is unset: it cannot resolve
    return parse_generate(resolved(cfg))


def machine(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "torch": torch.__version__}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(
            device=properties.name,
            memory_gb=round(properties.total_memory / 2**30, 1),
            multiprocessors=properties.multi_processor_count,
            cuda=torch.version.cuda,
        )
    else:
        info["device"] = "cpu"
    for package in ("triton", "diffusers", "lightning"):
        try:
            info[package] = __import__(package).__version__
        except ImportError:
            info[package] = None
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/gpu.json")
    parser.add_argument("--backends", nargs="+", default=["triton", "torch"], help="stages'")
    parser.add_argument("--encoding-backends", nargs="+", default=["triton", "torch"])
    parser.add_argument("--stages", nargs="+", default=list(STAGE_MODULES))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="top kernels of dynamic steps")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: check the script")
    parser.add_argument("--skip-encodings", action="store_true")
    parser.add_argument("--prior", default="zeroscope", choices=["zeroscope", "wan", "wan_14b"])
    args, overrides = parser.parse_known_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.tiny:
        parser.error("no CUDA device: run on a GPU, or pass --tiny to check the script")
    cli.register_resolvers()
    base = [f"prior={args.prior}", *(TINY if args.tiny else REAL), *overrides]
    result: dict[str, Any] = {
        "machine": machine(device),
        "config": {
            "overrides": base,
            "prompt": PROMPT,
            "genre": GENRE,
            "steps": args.steps,
            "warmup": args.warmup,
            "tiny": args.tiny,
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every section: a run cut short keeps what it measured
        out.write_text(json.dumps(result, indent=2) + "\n")

    if not args.skip_encodings:
        result["encodings"] = measure_encodings(device, args.encoding_backends, args.tiny)
        save()
    with tempfile.TemporaryDirectory() as scratch:
        reference = compose([*base, f"field.backend={args.backends[0]}"])
        began = time.perf_counter()
        guidance, about = build_guidance(reference, device, args.tiny, Path(scratch) / "clip")
        result["priors"] = {
            **about,
            "build_seconds": round(time.perf_counter() - began, 1),
            "resident_gb": rounded(allocated_gb(device)),
        }
        save()
        result["stages"] = {}
        for backend in args.backends:
            config = compose([*base, f"field.backend={backend}"])
            specs = {spec.name: spec for spec in config.stages}
            pl.seed_everything(config.seed, verbose=False)
            scene = Scene.build(config)
            scene.field.to(device)
            scene.renderer.to(device)
            scene.renderer.occupancy.update(scene.field, decay=0.0)
            occupied = scene.renderer.occupancy.occupied_fraction
            rows: dict[str, Any] = {"occupied_fraction": round(occupied, 3)}
            for name in args.stages:
                if name not in specs or specs[name].steps == 0:
                    continue
                profile = args.profile and backend == args.backends[0]
                rows[name] = run_stage(
                    config,
                    specs[name],
                    scene,
                    guidance,
                    device,
                    args.steps,
                    args.warmup,
                    profile,
                )
                print(f"{backend:>7} {name:>9}: {rows[name]}", flush=True)
                result["stages"][backend] = rows
                save()
            if backend == args.backends[0]:
                parts: dict[str, Any] = {}
                for name in ("dynamic", "superres"):
                    if name in args.stages and name in specs:
                        try:
                            spec = specs[name]
                            parts[name] = stage_parts(spec, scene, guidance, device)
                        except torch.OutOfMemoryError:
                            parts[name] = "out of memory"
                        release(device)
                rows["parts_seconds"] = parts
                save()
            del scene
            release(device)
    save()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
