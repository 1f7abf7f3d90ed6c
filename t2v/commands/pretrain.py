"""`t2v pretrain`: train the video prior and the SR prior (resumable), export their EMA weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from t2v.errors import ConfigError, RunDirError
from t2v.rundir import CONFIG_FILE

# Keys that may change when a run is resumed: how long and how it runs, not what it trains.
RESUMABLE_CHANGES = frozenset(
    {"stages", "max_steps", "checkpoint_every", "num_threads", "export_only", "export"}
)


def run(cfg: DictConfig) -> None:
    import lightning as L
    import torch

    settings = cfg.pretrain
    run_dir = resolve_run_dir(cfg)
    if settings.get("num_threads"):
        torch.set_num_threads(int(settings.num_threads))
    check_and_save_config(cfg, run_dir)
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)

    from t2v.pretrain.train import export_run

    if not settings.export_only:
        train_stages(cfg, run_dir)
    if settings.export or settings.export_only:
        folder = export_run(run_dir, Path(cfg.output_dir), scheduler_config(settings))
        print(f"pretrain: prior written to {folder}", flush=True)


def train_stages(cfg: DictConfig, run_dir: Path) -> None:
    from hydra.utils import instantiate

    from t2v.pretrain.clip_pool import ClipPool
    from t2v.pretrain.train import STAGES, checkpoint_path, fit_stage, warm_start

    settings = cfg.pretrain
    minilm = text_encoder(settings.text_encoder)
    for stage in settings.stages:
        if stage not in STAGES:
            raise ConfigError(f"pretrain.stages: unknown stage '{stage}'; use video and/or sr")
        options = settings[stage]
        extra = {"crop_size": options.get("crop_size")} if stage == "sr" else {}
        config = model_config(settings, stage)
        encode = minilm.encoder_for(config.get("text_pathway") == "attention")
        module = STAGES[stage](
            **extra,
            model_config=config,
            scheduler_config=scheduler_config(settings),
            lr=float(options.lr),
            weight_decay=float(options.weight_decay),
            ema_decay=float(settings.ema_decay),
            text_dropout=float(settings.text_dropout),
            genre_dropout=float(settings.genre_dropout),
            foreground_weight=float(options.get("foreground_weight", 0.0)),
            attribute_weight=float(options.get("attribute_weight", 0.0)),
            text_encoder=encode,
        )
        # Only a fresh stage starts from init_from; a resumed one continues its own checkpoint.
        if options.get("init_from") and not checkpoint_path(run_dir, stage).is_file():
            new = warm_start(module, Path(options.init_from))
            print(f"pretrain: {stage} starts from {options.init_from} (new: {new})", flush=True)
        size = settings.size * (settings.sr_factor if stage == "sr" else 1)
        seed = int(cfg.seed) + (1 if stage == "sr" else 0)

        def make_dataset(offset: int, size: int = size, seed: int = seed, options=options):
            # Resumed runs start the stream (and the pool's draws) where the last run stopped.
            source = instantiate(
                settings.data,
                frames=settings.frames,
                height=size,
                width=size,
                seed=seed,
                start=offset * int(options.batch_size),
            )
            return ClipPool(
                source, int(options.pool_size), float(options.pool_refresh), seed + offset
            )

        logger = None
        if cfg.get("logger"):
            logger = instantiate(cfg.logger, save_dir=str(run_dir / stage))
        fit_stage(
            module,
            stage,
            run_dir,
            make_dataset,
            batch_size=int(options.batch_size),
            max_steps=int(options.max_steps),
            checkpoint_every=int(settings.checkpoint_every),
            trainer_options=OmegaConf.to_container(cfg.trainer, resolve=True),
            logger=logger,
        )


def model_config(settings: DictConfig, stage: str) -> dict[str, Any]:
    config = OmegaConf.to_container(settings[stage].model, resolve=True)
    config.update(
        genres=list(settings.genres),
        num_frames=int(settings.frames),
        sample_size=int(settings.size) * (int(settings.sr_factor) if stage == "sr" else 1),
    )
    if stage == "sr":
        config["sr_factor"] = int(settings.sr_factor)
    return config


def scheduler_config(settings: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(settings.scheduler, resolve=True)


def text_encoder(name: str):
    if name != "minilm":
        raise ConfigError(
            f"pretrain.text_encoder '{name}' is unknown; the bundled prior uses minilm"
        )
    from t2v.text.minilm import MiniLMEncoder

    return MiniLMEncoder()


def resolve_run_dir(cfg: DictConfig) -> Path:
    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def check_and_save_config(cfg: DictConfig, run_dir: Path) -> None:
    """Refuse to resume a run dir trained with another model, data or objective."""
    from t2v.rundir import first_difference, load_config

    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra", None)
    saved_file = run_dir / CONFIG_FILE
    if saved_file.is_file():
        difference = first_difference(identity(load_config(saved_file)), identity(config))
        if difference is not None:
            raise RunDirError(
                f"run_dir {run_dir} holds another pretraining run ({difference}); "
                "pick a new run_dir"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(config), saved_file)


def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a pretraining config that must match to resume."""
    settings = dict(config.get("pretrain") or {})
    for key in RESUMABLE_CHANGES:
        settings.pop(key, None)
    for stage in ("video", "sr"):
        if isinstance(settings.get(stage), dict):
            settings[stage] = {k: v for k, v in settings[stage].items() if k != "max_steps"}
    return {"seed": config.get("seed"), "pretrain": settings}
