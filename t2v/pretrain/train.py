"""Fit one prior stage with resume from `last.ckpt`, and export EMA weights of a run's stages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from t2v.errors import ConfigError
from t2v.pretrain.modules import (
    DiffusionPriorModule,
    SRPriorModule,
    VideoPriorModule,
    default_scheduler_config,
)
from t2v.pretrain.prior_folder import PriorModels, save_prior
from t2v.pretrain.progress import ProgressLine

STAGES: dict[str, type[DiffusionPriorModule]] = {"video": VideoPriorModule, "sr": SRPriorModule}
LAST_CHECKPOINT = "last.ckpt"


def checkpoint_path(run_dir: Path, stage: str) -> Path:
    return run_dir / stage / "checkpoints" / LAST_CHECKPOINT


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unreadable, truncated or foreign file: one clear line
        raise ConfigError(f"cannot read checkpoint {path} ({type(error).__name__})") from None


def resumed_step(path: Path) -> int:
    """Global step stored in a checkpoint, or 0 where there is none yet."""
    return int(load_checkpoint(path)["global_step"]) if path.is_file() else 0


def fit_stage(
    module: DiffusionPriorModule,
    stage: str,
    run_dir: Path,
    make_dataset: Callable[[int], Iterable[dict[str, Any]]],
    batch_size: int,
    max_steps: int,
    checkpoint_every: int,
    trainer_options: dict[str, Any],
    logger: Any = None,
    progress_every: int = 50,
) -> int:
    """Train `module` to `max_steps`, resuming from `run_dir/stage/checkpoints/last.ckpt`.

    `make_dataset(offset)` builds the data stream; the offset is the resumed step, so a resumed
    run sees fresh clips instead of replaying the first ones. Returns the final global step.
    """
    last = checkpoint_path(run_dir, stage)
    start = resumed_step(last)
    loader = DataLoader(make_dataset(start), batch_size=batch_size, num_workers=0)
    checkpoints = ModelCheckpoint(
        dirpath=last.parent,
        filename="step{step}",
        auto_insert_metric_name=False,
        every_n_train_steps=checkpoint_every,
        save_top_k=1,
        save_last=True,
        enable_version_counter=False,  # a resumed run must overwrite last.ckpt, not add last-v1
    )
    options = {"enable_progress_bar": False, "enable_model_summary": False, **trainer_options}
    trainer = L.Trainer(
        max_steps=max_steps,
        max_epochs=-1,
        callbacks=[checkpoints, ProgressLine(stage, progress_every)],
        logger=logger if logger is not None else False,
        default_root_dir=str(run_dir / stage),
        **options,
    )
    trainer.fit(
        module,
        train_dataloaders=loader,
        ckpt_path=str(last) if start else None,
        weights_only=True,
    )
    # The periodic checkpoints miss the last step; full state (optimizer too) so it resumes.
    trainer.save_checkpoint(last, weights_only=False)
    return trainer.global_step


def module_from_checkpoint(path: Path, stage: str) -> DiffusionPriorModule:
    """A stage checkpoint's module (trained and EMA weights), rebuilt from its hyper-parameters."""
    checkpoint = load_checkpoint(path)
    hparams = dict(checkpoint["hyper_parameters"])
    module = STAGES[stage](**hparams, text_encoder=lambda texts: torch.zeros(len(texts), 384))
    module.load_state_dict(checkpoint["state_dict"])
    return module


def ema_model_from_checkpoint(path: Path, stage: str) -> torch.nn.Module:
    """The EMA model of a stage checkpoint, rebuilt from its saved hyper-parameters."""
    return module_from_checkpoint(path, stage).ema_model.eval()


def warm_start(module: DiffusionPriorModule, path: Path) -> list[str]:
    """Start `module` (weights and EMA) from the EMA weights of another run's checkpoint, or
    from a prior folder (`t2v pretrain`'s export, e.g. the shipped prior).

    The model may have grown since: a conv that gained input channels (e.g. coordinates) gets
    zeros for them, and layers the checkpoint lacks keep their (zero-output) init. Returns the
    names of those new parameters. Any other mismatch is a ConfigError.
    """
    source = exported_weights(path, module) if path.is_dir() else checkpoint_ema_weights(path)
    target = module.model.state_dict()
    adapted = {}
    for name, value in source.items():
        wanted = target.get(name)
        if wanted is None:
            raise ConfigError(f"init_from: {path} has {name}, which this model lacks")
        if value.shape == wanted.shape:
            adapted[name] = value
        elif _gained_input_channels(value, wanted):
            padded = torch.zeros_like(wanted)
            padded[:, : value.shape[1]] = value
            adapted[name] = padded
        else:
            raise ConfigError(
                f"init_from: {name} is {tuple(value.shape)} there, {tuple(wanted.shape)} here"
            )
    if not adapted:
        raise ConfigError(f"init_from: {path} holds no EMA weights of a prior")
    result = module.model.load_state_dict(adapted, strict=False)
    module.ema_model.load_state_dict(module.model.state_dict())
    return list(result.missing_keys)


def checkpoint_ema_weights(path: Path) -> dict[str, torch.Tensor]:
    """The EMA model's weights in a stage checkpoint, named as in the model."""
    if not path.is_file():
        raise ConfigError(f"init_from: {path} is neither a checkpoint file nor a prior folder")
    state = load_checkpoint(path).get("state_dict", {})
    prefix = "ema_model."
    return {name[len(prefix) :]: v for name, v in state.items() if name.startswith(prefix)}


def exported_weights(folder: Path, module: DiffusionPriorModule) -> dict[str, torch.Tensor]:
    """The weights a prior folder holds for `module`'s model (unet/ or sr_unet/)."""
    from diffusers.utils import SAFETENSORS_WEIGHTS_NAME
    from safetensors.torch import load_file

    subfolder = "sr_unet" if isinstance(module, SRPriorModule) else "unet"
    weights = folder / subfolder / SAFETENSORS_WEIGHTS_NAME
    if not weights.is_file():
        raise ConfigError(f"init_from: {folder} is a folder without {subfolder}/ weights")
    try:
        return load_file(weights)
    except Exception as error:  # truncated or foreign file: one clear line
        raise ConfigError(f"init_from: cannot read {weights} ({type(error).__name__})") from None


def _gained_input_channels(old: torch.Tensor, new: torch.Tensor) -> bool:
    """True where `new` is conv weight `old` with more input channels (dim 1), all else equal."""
    same_elsewhere = (old.shape[0], *old.shape[2:]) == (new.shape[0], *new.shape[2:])
    return old.ndim == new.ndim == 4 and old.shape[1] < new.shape[1] and same_elsewhere


def export_run(run_dir: Path, output_dir: Path, scheduler_config: dict | None = None) -> Path:
    """Write the EMA weights of `run_dir`'s video (and SR, if trained) stages as a prior folder."""
    from diffusers import DDPMScheduler

    video = checkpoint_path(run_dir, "video")
    if not video.is_file():
        raise ConfigError(f"nothing to export: {video} does not exist (train the video stage)")
    scheduler = DDPMScheduler(**(scheduler_config or default_scheduler_config()))
    sr = checkpoint_path(run_dir, "sr")
    models = PriorModels(
        unet=ema_model_from_checkpoint(video, "video"),
        scheduler=scheduler,
        sr_unet=ema_model_from_checkpoint(sr, "sr") if sr.is_file() else None,
        sr_scheduler=DDPMScheduler.from_config(scheduler.config) if sr.is_file() else None,
    )
    return save_prior(models, output_dir)
