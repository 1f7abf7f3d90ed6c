"""The `t2v pretrain` job: guard the run dir, train the configured stages, export the prior."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v.errors import ConfigError, RunDirError
from t2v.pretrain.config import PretrainConfig, PretrainSettings, Stage
from t2v.pretrain.generator_config import SceneGeneratorSettings
from t2v.rundir import RunDir, atomic_write_text, first_difference

# Keys that may change when a run is resumed: how long and how it runs, not what it trains.
RESUMABLE_CHANGES = frozenset(
    {
        "stages",
        "max_steps",
        "checkpoint_every",
        "progress_every",
        "num_threads",
        "export_only",
        "export",
    }
)


def run_pretraining(config: PretrainConfig) -> Path | None:
    """Train `config`'s stages (resuming from the run dir) and export the prior folder.

    Returns the exported folder, or None where export is off."""
    import lightning as L
    import torch

    settings = config.pretrain
    run_dir = job_run_dir(config)
    if isinstance(settings, SceneGeneratorSettings):
        from t2v.pretrain.scene_generator import run_generator_pretraining

        return run_generator_pretraining(config, settings, run_dir)
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    save_config(run_dir, config.resolved)
    L.seed_everything(config.seed, workers=True, verbose=False)

    from t2v.pretrain.train import export_run

    if not settings.export_only:
        train_stages(config, run_dir)
    if settings.export or settings.export_only:
        return export_run(run_dir, config.output_dir, settings.scheduler.arguments())
    return None


def job_run_dir(config: PretrainConfig) -> Path:
    if config.run_dir is None:
        raise ConfigError("run_dir is not set; pass run_dir=DIR")
    return config.run_dir


def train_stages(config: PretrainConfig, run_dir: Path) -> None:
    from t2v.pretrain.clip_pool import ClipPool
    from t2v.pretrain.train import checkpoint_path, fit_stage, warm_start
    from t2v.text.minilm import MiniLMEncoder

    settings = config.pretrain
    assert isinstance(settings, PretrainSettings) and config.data is not None
    data = config.data
    minilm = MiniLMEncoder()  # the only `text_encoder` there is (checked at the door)
    for stage in settings.stages:
        options = settings.stage(stage)
        module = stage_module(settings, stage, minilm)
        # Only a fresh stage starts from init_from; a resumed one continues its own checkpoint.
        if options.init_from and not checkpoint_path(run_dir, stage).is_file():
            new = warm_start(module, Path(options.init_from))
            print(f"pretrain: {stage} starts from {options.init_from} (new: {new})", flush=True)
        size = settings.stage_size(stage)
        seed = config.seed + (1 if stage == "sr" else 0)

        def make_dataset(
            offset: int, size: int = size, seed: int = seed, options: Any = options
        ) -> ClipPool:
            # Resumed runs start the stream (and the pool's draws) where the last run stopped.
            source = data.build(
                frames=settings.frames,
                height=size,
                width=size,
                seed=seed,
                start=offset * options.batch_size,
            )
            return ClipPool(source, options.pool_size, options.pool_refresh, seed + offset)

        logger = None
        if config.logger is not None:
            logger = config.logger.build(save_dir=str(run_dir / stage))
        fit_stage(
            module,
            stage,
            run_dir,
            make_dataset,
            batch_size=options.batch_size,
            max_steps=options.max_steps,
            checkpoint_every=settings.checkpoint_every,
            trainer_options=dict(config.trainer),
            logger=logger,
        )


def stage_module(settings: PretrainSettings, stage: Stage, minilm: Any) -> Any:
    """The stage's LightningModule (its model's weights drawn here), reading MiniLM's output
    in the form its text pathway takes."""
    from t2v.pretrain.train import STAGES

    options = settings.stage(stage)
    extra = {"crop_size": options.crop_size} if stage == "sr" else {}  # type: ignore[union-attr]
    model_config = settings.model_arguments(stage)
    encode = minilm.encoder_for(model_config.get("text_pathway") == "attention")
    return STAGES[stage](
        **extra,
        model_config=model_config,
        scheduler_config=settings.scheduler.arguments(),
        lr=options.lr,
        weight_decay=options.weight_decay,
        ema_decay=settings.ema_decay,
        text_dropout=settings.text_dropout,
        genre_dropout=settings.genre_dropout,
        foreground_weight=options.foreground_weight,
        attribute_weight=options.attribute_weight,
        text_encoder=encode,
    )


def check_resumable(run_dir: Path, resolved: Mapping[str, Any]) -> None:
    """Refuse a run dir that holds a pretraining run of another model, data or objective."""
    folder = RunDir(run_dir)
    if folder.root.exists() and not folder.root.is_dir():
        raise RunDirError(f"run_dir {run_dir} is a file, not a directory")
    if not folder.holds_run():
        return
    difference = first_difference(identity(folder.read_config()), identity(resolved))
    if difference is not None:
        raise RunDirError(
            f"run_dir {run_dir} holds another pretraining run ({difference}); pick a new run_dir"
        )


def save_config(run_dir: Path, resolved: Mapping[str, Any]) -> None:
    """Check the run dir, then write `resolved` as its config.yaml (the latest invocation's)."""
    import yaml

    check_resumable(run_dir, resolved)
    text = yaml.safe_dump(dict(resolved), sort_keys=False, allow_unicode=True)
    atomic_write_text(RunDir(run_dir).config_file, text)


def identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a pretraining config that must match to resume."""
    settings = dict(config.get("pretrain") or {})
    for key in RESUMABLE_CHANGES:
        settings.pop(key, None)
    for stage in ("video", "sr"):
        if isinstance(settings.get(stage), dict):
            settings[stage] = {k: v for k, v in settings[stage].items() if k != "max_steps"}
    return {"seed": config.get("seed"), "pretrain": settings}
