"""Pre-training the scene generator: amortised SDS over many prompts, resumable, EMA, export.

Each step draws a batch of training prompts (`scene_prompts`), makes each prompt's field with
the generator (the template with its FiLM-folded heads and predicted trajectory swapped in,
differentiably), renders it from the cameras a `t2v generate` run of that genre trains with
(the static stage's views all round, the dynamic stage's clips in the frontal band) and adds,
per prompt: image-prior SDS of the all-round view, video-prior SDS of the clip, and the
reference term of the stages (the front view against the video prior's own sample of the
prompt, drawn once per prompt and cached in the run dir). Priors, their conditioning and the
reference clips live in a `PromptBank` built before fitting: never in a checkpoint.

Two terms need no rendering. The track term: the predicted global trajectory, projected through
the genre's front camera, against where the object goes in the prompt's sample (the photometric
reference term moves the object only where the rendered and sampled blobs overlap; this one
gives the trajectory a gradient from the first step). The motion term, for a generator with a
motion head: its read of which motion the prompt names against the evaluator's read of the
sample (cross-entropy): the prior, not the caption's label, is the teacher.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import IterableDataset

from t2v.errors import ConfigError
from t2v.generator import GeneratorText, SceneGenerator, build_generator, save_generator
from t2v.pretrain.config import PretrainConfig
from t2v.pretrain.ema import ema_decay_at, update_ema
from t2v.pretrain.generator_config import SceneGeneratorSettings, SceneInputs, scene_inputs
from t2v.pretrain.scene_prompts import ScenePrompt, training_prompts
from t2v.pretrain.train import checkpoint_path, fit_stage, load_checkpoint
from t2v.priors.base import ImagePrior, VideoPrior
from t2v.priors.reference import ReferenceClip
from t2v.render import (
    Cameras,
    VolumeRenderer,
    genre_trajectory_cameras,
    sample_clip_times,
    sample_training_cameras,
)
from t2v.stages import StageSpec
from t2v.text.conditioning import TextConditioning
from t2v.text.minilm import MINILM_MODEL_ID
from t2v.text.views import view_bucket

STAGE = "generator"  # the run dir's folder: generator/checkpoints/last.ckpt
REFERENCES = "references.pt"
TEMPLATE_GROUPS = ("static", "dynamic", "heads", "background")  # trajectory: predicted


@dataclass
class PromptBank:
    """The training prompts with everything a step reads about them, built once."""

    prompts: list[ScenePrompt]
    text: torch.Tensor  # what the generator reads: MiniLM sentence vectors or token states
    conditions: list[TextConditioning]  # what the prior reads (the genre template composed)
    references: torch.Tensor  # (N, T, 3, h, w) the video prior's sample of each prompt
    tracks: torch.Tensor  # (N, T, 3) its object's screen displacement and log size change
    motions: torch.Tensor  # (N,) index into SCREEN_MOTIONS of what the evaluator reads in it
    video: VideoPrior
    image: ImagePrior
    inputs: SceneInputs


class PromptStream(IterableDataset):
    """Endless prompt indices `{"index": i}`, seeded; `start` skips what a resumed run drew."""

    def __init__(self, count: int, seed: int, start: int) -> None:
        self.count, self.seed, self.start = count, seed, start

    def __iter__(self) -> Iterator[dict[str, int]]:
        rng = random.Random(self.seed)
        for position in itertools.count():
            index = rng.randrange(self.count)
            if position >= self.start:
                yield {"index": index}


class SceneGeneratorModule(L.LightningModule):
    """The generator and its EMA; the loss of a batch of prompts (module docstring)."""

    def __init__(
        self,
        manifest: dict[str, Any],
        lr: dict[str, float],
        weights: dict[str, float],
        ema_decay: float,
        render_scale: float,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.generator: SceneGenerator = build_generator(manifest)
        self.ema_generator = copy.deepcopy(self.generator).requires_grad_(False)
        self.renderer: VolumeRenderer | None = None
        self.bank: PromptBank | None = None

    def attach(self, bank: PromptBank) -> None:
        """Priors, prompts and references (plain objects: never saved in a checkpoint)."""
        self.bank = bank
        self.renderer = bank.inputs.renderer.build()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        rates = self.hparams["lr"]
        template_ids = {id(value) for value in self.generator.template.parameters()}
        conditioning = [p for p in self.generator.parameters() if id(p) not in template_ids]
        groups = [{"params": conditioning, "lr": rates["generator"], "name": "generator"}]
        template = self.generator.template.parameter_groups()
        for name in TEMPLATE_GROUPS:
            if rates.get(name, 0.0) > 0 and template[name]:
                groups.append({"params": template[name], "lr": rates[name], "name": name})
        # eps as the stages' optimiser: plane features get tiny, rare gradients.
        return torch.optim.Adam(groups, betas=(0.9, 0.99), eps=1e-15)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        bank = self.bank
        if bank is None:
            raise RuntimeError("attach a PromptBank before fitting")
        indices = [int(i) for i in batch["index"]]
        text = bank.text[indices].to(self.device)
        genres = [bank.prompts[i].genre for i in indices]
        genre_ids = torch.tensor([self.generator.genre_id(g) for g in genres], device=self.device)
        fields = self.generator.fields(text, genre_ids)
        weights = self.hparams["weights"]
        totals: dict[str, torch.Tensor] = {}
        for slot, (index, field) in enumerate(zip(indices, fields, strict=True)):
            mixed = hash((self.hparams["seed"], self.global_step, slot)) & 0x7FFF_FFFF
            generator = torch.Generator().manual_seed(mixed)
            for name, value in self.prompt_terms(index, field, generator).items():
                totals[name] = totals.get(name, 0.0) + value / len(indices)
        if weights.get("motion", 0.0) > 0 and self.generator.reads_tokens:
            logits = self.generator.motion_logits(text, genre_ids)
            read = bank.motions[indices].to(self.device)
            totals["motion"] = torch.nn.functional.cross_entropy(logits, read)
        loss = sum(weights[name] * value for name, value in totals.items())
        self.log_dict({f"generator/{k}": v.detach() for k, v in totals.items()}, on_step=True)
        self.log("generator/loss", loss.detach(), prog_bar=True, on_step=True)
        return loss  # type: ignore[return-value]

    def prompt_terms(
        self, index: int, field: Any, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """One prompt's terms: all-round view SDS, frontal clip SDS, reference clip."""
        bank, renderer = self.bank, self.renderer
        assert bank is not None and renderer is not None
        prompt = bank.prompts[index]
        specs = bank.inputs.specs[prompt.genre]
        condition = bank.conditions[index]
        weights = self.hparams["weights"]
        field.static_only = False
        terms: dict[str, torch.Tensor] = {}
        if weights["static"] > 0:
            # One still view from all round, at a random time, under the image prior.
            terms["static"] = self.view_sds(
                bank.image,
                specs["static"],
                1,
                lambda: torch.rand(1, 1, generator=generator),
                condition,
                field,
                generator,
            )
        if weights["dynamic"] > 0:
            spec = specs["dynamic"]
            terms["dynamic"] = self.view_sds(
                bank.video,
                spec,
                spec.frames,
                lambda: sample_clip_times(1, spec.frames, spec.times, generator),
                condition,
                field,
                generator,
            )
        if weights["reference"] > 0:
            terms["reference"] = self.reference_term(index, field, generator)
        if weights.get("track", 0.0) > 0:
            terms["track"] = self.track_term(index, field)
        return terms

    def view_sds(
        self,
        prior: ImagePrior | VideoPrior,
        spec: StageSpec,
        frames: int,
        draw_times: Callable[[], torch.Tensor],
        condition: TextConditioning,
        field: Any,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """`prior`'s SDS loss on `frames` views from `spec`'s cameras at the times
        `draw_times` gives; cameras, times and the stage step come from `generator` in that
        order."""
        renderer = self.renderer
        assert renderer is not None
        width, height = self.render_size(spec.width, spec.height)
        sampled = sample_training_cameras(1, frames, width, height, spec.cameras, generator)
        times = draw_times()
        rendered = renderer.render(field, sampled.cameras.to(self.device), times, generator)
        views = [view_bucket(float(sampled.azimuth_deg[0, 0]), float(sampled.elevation_deg[0, 0]))]
        step = int(torch.randint(spec.steps, (1,), generator=generator))
        return prior.sds(rendered.rgb, condition, views=views, step=step, generator=generator).loss

    def reference_term(self, index: int, field: Any, generator: torch.Generator) -> torch.Tensor:
        """The front view at a few times against the prompt's reference clip (as the stages'
        `reference` term, from the genre's front camera)."""
        bank, renderer = self.bank, self.renderer
        assert bank is not None and renderer is not None
        reference = ReferenceClip(bank.references[index][None])
        times, frames = reference.sample_times(None, generator)
        spec = bank.inputs.specs[bank.prompts[index].genre]["dynamic"]
        width, height = self.render_size(spec.base_width, spec.base_height)
        genre = bank.inputs.genres[bank.prompts[index].genre]
        front = genre_trajectory_cameras(
            genre.camera, reference.frames, width, height, trajectory="static"
        )
        cameras = Cameras(front.c2w[:, frames], front.fov_y_deg[:, frames], width, height)
        rendered = renderer.render(field, cameras.to(self.device), times[None], generator)
        return reference.loss(rendered.rgb, times)

    def track_term(self, index: int, field: Any) -> torch.Tensor:
        """Mean squared error between the reference clip's object track and the predicted
        trajectory's: the scene's origin moved by the trajectory, projected through the
        genre's front camera at the clip's frame times (`screen_track`)."""
        bank = self.bank
        assert bank is not None
        target = bank.tracks[index].to(self.device)
        genre = bank.inputs.genres[bank.prompts[index].genre]
        frames = target.shape[0]
        front = genre_trajectory_cameras(genre.camera, frames, 64, 64, trajectory="static")
        times = torch.linspace(0.0, 1.0, frames, device=self.device)[:, None]
        offsets = (
            field.trajectory(times) if field.trajectory is not None else target.new_zeros(frames, 3)
        )
        predicted = screen_track(front.to(self.device), offsets)
        return ((predicted - target) ** 2).sum(dim=-1).mean()

    def render_size(self, width: int, height: int) -> tuple[int, int]:
        scale = self.hparams["render_scale"]
        return max(4, round(width * scale)), max(4, round(height * scale))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        decay = ema_decay_at(self.global_step, self.hparams["ema_decay"])
        update_ema(self.ema_generator, self.generator, decay)


def screen_track(cameras: Cameras, offsets: torch.Tensor) -> torch.Tensor:
    """`(T, 3)`: where the scene origin moved by `offsets (T, 3)` appears through `cameras`
    (one per frame, `(1, T)`), relative to the first frame: x right and y up in fractions of
    the image width and height, and the log of its apparent size change (depth ratio)."""
    points = offsets[None, :, None, :]
    pixels = cameras.project(points)[0, :, 0]
    fractions = pixels / pixels.new_tensor([cameras.width, cameras.height])
    rotation = cameras.c2w[0, :, :3, :3]
    local = torch.einsum("tji,tj->ti", rotation, offsets - cameras.positions[0])
    depth = (-local[:, 2]).clamp(min=1e-6)
    moved = fractions - fractions[:1]
    return torch.stack((moved[:, 0], -moved[:, 1], torch.log(depth[:1] / depth)), dim=-1)


def object_tracks(clips: torch.Tensor) -> torch.Tensor:
    """`(N, T, 3)` of clips `(N, T, 3, H, W)`: the evaluator's object track of each
    (`t2v.eval.video_features.track_object`) as `screen_track` measures a trajectory."""
    from t2v.eval.video_features import track_object

    tracks = []
    for clip in clips:
        track = track_object(clip.float().clamp(0.0, 1.0))
        size = track.size.clamp(min=1e-3)
        tracks.append(
            torch.stack(
                (
                    track.x - track.x[0],
                    track.y[0] - track.y,
                    torch.log(size / size[0]),
                ),
                dim=-1,
            )
        )
    return torch.stack(tracks)


def motion_reads(clips: torch.Tensor) -> torch.Tensor:
    """`(N,)`: the evaluator's motion read of each clip `(N, T, 3, H, W)`, as an index into
    `SCREEN_MOTIONS`."""
    from t2v.eval.attributes import SCREEN_MOTIONS, describe

    return torch.tensor([SCREEN_MOTIONS.index(describe(clip).motion) for clip in clips])


def generator_manifest(settings: SceneGeneratorSettings) -> dict[str, Any]:
    """What rebuilds the generator (`t2v.generator.build_generator`)."""
    from t2v.eval.attributes import SCREEN_MOTIONS

    motions = list(SCREEN_MOTIONS) if settings.model.motion_heads > 0 else []
    return {
        "field": dict(settings.field),
        "genres": list(settings.genres),
        "text_dim": 384,
        "text_encoder": MINILM_MODEL_ID,
        "genre_dim": settings.model.genre_dim,
        "hidden_dim": settings.model.hidden_dim,
        "max_offset": settings.model.max_offset,
        "motion_heads": settings.model.motion_heads,
        "motions": motions,  # the motion head's classes
    }


def build_bank(
    settings: SceneGeneratorSettings, inputs: SceneInputs, run_dir: Path, seed: int
) -> PromptBank:
    """Prompts, their text vectors and prior conditioning, and reference clips (sampled once
    and kept in `run_dir/references.pt`, so a resumed run does not draw them again)."""
    from t2v.text.minilm import MiniLMEncoder
    from t2v.text.prompt import PromptEncoder

    prompts = training_prompts(settings.prompts, settings.genres, settings.heldout_every, seed)
    video = inputs.prior.load("video", device="cpu")
    image = inputs.prior.load("image", device="cpu") or video
    captions = [prompt.caption for prompt in prompts]
    text = GeneratorText(MiniLMEncoder()).encode(captions, tokens=settings.model.motion_heads > 0)
    encoder = PromptEncoder.for_prior(video, device="cpu")
    genres = [inputs.genres[prompt.genre] for prompt in prompts]
    pairs = list(zip(captions, genres, strict=True))
    texts = [
        text for caption, genre in pairs for text in encoder.view_texts(caption, genre).values()
    ]
    encoder.embed([*texts, ""])  # one pass of the text encoder; `encode` then reads the cache
    conditions = [encoder.encode(caption, genre) for caption, genre in pairs]
    references = reference_clips(settings, inputs, video, conditions, captions, run_dir, seed)
    tracks, motions = object_tracks(references), motion_reads(references)
    bank = (prompts, text, conditions, references, tracks, motions, video, image, inputs)
    return PromptBank(*bank)  # type: ignore[arg-type]


def reference_clips(
    settings: SceneGeneratorSettings,
    inputs: SceneInputs,
    video: VideoPrior,
    conditions: list[TextConditioning],
    captions: list[str],
    run_dir: Path,
    seed: int,
) -> torch.Tensor:
    path = run_dir / REFERENCES
    if path.is_file():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if stored.get("captions") == captions:
            return stored["clips"]
    if inputs.prior.reference is None or settings.weights.reference <= 0:
        frames, size = 8, (32, 32)
        return torch.zeros(len(captions), frames, 3, *size)
    clips = []
    for number, condition in enumerate(conditions):
        generator = torch.Generator().manual_seed(seed * 100_003 + number)
        clip = video.sample(  # type: ignore[attr-defined]
            condition,
            steps=settings.reference_steps,
            guidance=inputs.prior.reference.guidance,
            generator=generator,
        )
        clips.append(clip[0])
        if (number + 1) % 32 == 0:
            print(f"generator: reference clips {number + 1}/{len(conditions)}", flush=True)
    stacked = torch.stack(clips)
    torch.save({"captions": captions, "clips": stacked}, path)
    return stacked


def run_generator_pretraining(
    config: PretrainConfig, settings: SceneGeneratorSettings, run_dir: Path
) -> Path | None:
    """Train the generator (resuming from `run_dir`) and export its EMA weights."""
    from t2v.pretrain.job import save_config

    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    save_config(run_dir, config.resolved)
    L.seed_everything(config.seed, workers=True, verbose=False)
    if not settings.export_only:
        inputs = scene_inputs(settings)
        bank = build_bank(settings, inputs, run_dir, config.seed)
        module = SceneGeneratorModule(
            generator_manifest(settings),
            lr=settings.lr.__dict__ | {},
            weights=dict(settings.weights.__dict__),
            ema_decay=settings.ema_decay,
            render_scale=settings.render_scale,
            seed=config.seed,
        )
        module.attach(bank)
        if settings.init_from:
            start_from(module, settings.init_from)
        for generator in (module.generator, module.ema_generator):
            generator.set_text_statistics(bank.text)  # a resumed run loads the same ones
        logger = None
        if config.logger is not None:
            logger = config.logger.build(save_dir=str(run_dir / STAGE))
        fit_stage(
            module,  # type: ignore[arg-type]
            STAGE,
            run_dir,
            lambda start: PromptStream(len(bank.prompts), config.seed, start),
            batch_size=settings.batch_size,
            max_steps=settings.max_steps,
            checkpoint_every=settings.checkpoint_every,
            trainer_options=dict(config.trainer),
            logger=logger,
            progress_every=settings.progress_every,
        )
    if settings.export or settings.export_only:
        recipe = {
            "prompts": settings.prompts,
            "heldout_every": settings.heldout_every,
            "prompt_seed": config.seed,
        }
        if settings.init_from:  # where the weights started, and how that one was trained
            from t2v.generator import read_manifest, resolve_folder

            source = read_manifest(resolve_folder(settings.init_from))
            recipe["init_from"] = {"location": settings.init_from, **source.get("training", {})}
        return export_generator(run_dir, config.output_dir, recipe)
    return None


def start_from(module: SceneGeneratorModule, location: str) -> None:
    """Both the generator and its EMA take the weights of the generator at `location`
    (`adopted_state`: a generator without a motion head can start one with it)."""
    from t2v.generator import load_generator
    from t2v.generator.model import adopted_state

    source = load_generator(location)
    for generator in (module.generator, module.ema_generator):
        try:
            generator.load_state_dict(adopted_state(source, generator))
        except RuntimeError as error:
            problem = " ".join(str(error).split())[:160]
            raise ConfigError(
                f"pretrain.init_from={location}: another network than this recipe's ({problem})"
            ) from None


def export_generator(run_dir: Path, output_dir: Path, recipe: dict[str, Any] | None = None) -> Path:
    """Write the EMA generator of `run_dir`'s last checkpoint into `output_dir`; `recipe` (the
    prompts it trained on: how many, the held-out split) joins the manifest's `training`."""
    last = checkpoint_path(run_dir, STAGE)
    if not last.is_file():
        raise ConfigError(f"nothing to export: {last} does not exist (train the generator)")
    checkpoint = load_checkpoint(last)
    hparams = checkpoint["hyper_parameters"]
    manifest = dict(hparams["manifest"])
    generator = build_generator(manifest)
    prefix = "ema_generator."
    state = checkpoint["state_dict"]
    generator.load_state_dict(
        {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    )
    manifest["training"] = {
        "steps": int(checkpoint["global_step"]),
        "lr": dict(hparams["lr"]),
        "weights": dict(hparams["weights"]),
        "ema_decay": hparams["ema_decay"],
        "render_scale": hparams["render_scale"],
        **(recipe or {}),
    }
    return save_generator(generator, output_dir, manifest)
