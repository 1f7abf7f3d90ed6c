"""Loading frozen diffusers components from a hub id, a local folder or a `pkg://` path.

`pkg://PACKAGE/REL/PATH` names a folder shipped inside an installed package (resolved with
importlib.resources), e.g. `pkg://t2v/assets/priors/bundled`. `local_files_only=None` follows
`HF_HUB_OFFLINE`. A model that cannot be found ends in one `ConfigError` naming it and saying
how to fetch it.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path
from typing import Any, TypeVar

import torch

from t2v.errors import ConfigError

PKG_SCHEME = "pkg://"
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def is_local_only(local_files_only: bool | None) -> bool:
    """`local_files_only`, where None means: follow HF_HUB_OFFLINE."""
    return offline() if local_files_only is None else local_files_only


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device: torch.device | str) -> torch.dtype:
    """Half precision on CUDA, float32 elsewhere (CPU half kernels are slow or missing)."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def resolve_model(model: str) -> str:
    """A hub id unchanged; a `pkg://` or filesystem path as an absolute folder that must exist."""
    model = str(model).strip()
    if not model:
        raise ConfigError("a prior's model is empty; give a hub id or a folder")
    if model.startswith(PKG_SCHEME):
        package, _, relative = model[len(PKG_SCHEME) :].partition("/")
        try:
            folder = Path(str(importlib.resources.files(package) / relative))
        except ModuleNotFoundError:
            raise ConfigError(f"prior '{model}': package '{package}' is not installed") from None
        if not folder.is_dir():
            raise ConfigError(
                f"prior '{model}' is not shipped at {folder}; train it with `t2v pretrain` "
                "or choose another prior= preset"
            )
        return str(folder)
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if model.startswith(("/", ".", "~")) or model.count("/") != 1:
        raise ConfigError(f"prior folder '{model}' does not exist (nor is it a hub id 'org/name')")
    return model


def channels_last(module: ModuleT) -> ModuleT:
    """The module's 4-D weights (2D convolutions) in channels_last layout: a frozen prior's
    convolutions then run 20-25% faster on the CPU (benchmarks/results/prior_layout.json), as
    diffusers recommends on CUDA. Other weights (3D convolutions, linear layers) stay as they are.
    """
    for parameter in module.parameters():
        if parameter.dim() == 4:
            parameter.data = parameter.data.contiguous(memory_format=torch.channels_last)
    return module


def freeze(module: ModuleT) -> ModuleT:
    module.eval()
    module.requires_grad_(False)
    return module


def load_component(
    cls: Any,
    model: str,
    subfolder: str | None = None,
    *,
    local_files_only: bool | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> Any:
    """`cls.from_pretrained(model, subfolder=...)`, frozen on `device` (modules) or as is."""
    local = is_local_only(local_files_only)
    source = resolve_model(model)
    kwargs: dict[str, Any] = {"local_files_only": local}
    if subfolder:
        kwargs["subfolder"] = subfolder
    if issubclass(cls, torch.nn.Module):
        if getattr(cls, "_keep_in_fp32_modules", None) is None:
            kwargs["low_cpu_mem_usage"] = False  # the eager path: no `accelerate` involved
        # else (Wan): diffusers loads the float32-kept modules through `accelerate` only
        if dtype is not None:
            kwargs["torch_dtype"] = dtype
    try:
        loaded = cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as error:
        raise ConfigError(missing_model_message(model, subfolder, local, error)) from None
    if isinstance(loaded, torch.nn.Module):
        return freeze(channels_last(loaded.to(device)))
    return loaded


def check_cached(model: str) -> None:
    """Offline: a hub id must be in the local Hugging Face cache (a folder is checked when it
    loads). One ConfigError naming the download otherwise, before anything is written."""
    source = resolve_model(model)
    if Path(source).is_dir():
        return
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id=source, local_files_only=True)
    except Exception as error:  # the hub's "not cached" errors have no common base
        raise ConfigError(missing_model_message(model, None, True, error)) from None


def missing_model_message(
    model: str, subfolder: str | None, local_files_only: bool, error: Exception
) -> str:
    part = f" ({subfolder}/)" if subfolder else ""
    if Path(resolve_model_quietly(model)).is_dir():
        return f"prior folder '{model}'{part} is incomplete or unreadable: {_first_line(error)}"
    how = f"fetch it with `huggingface-cli download {model}`"
    if local_files_only:
        return (
            f"prior model '{model}'{part} is not in the local Hugging Face cache and downloads "
            f"are off (local_files_only / HF_HUB_OFFLINE=1); {how} on a machine with internet"
        )
    return f"cannot load prior model '{model}'{part}: {_first_line(error)}; {how}"


def resolve_model_quietly(model: str) -> str:
    try:
        return resolve_model(model)
    except ConfigError:
        return model


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
