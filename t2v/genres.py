"""Genre presets: typed view of a `conf/genre/*.yaml` node, plus colour grading of frames.

A genre is data. Adding `conf/genre/western.yaml` (or a file in a directory passed with
`hydra.searchpath`) is all it takes; this module only checks the values and applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from t2v.errors import ConfigError

if TYPE_CHECKING:
    import torch

TRAJECTORIES = ("orbit", "static", "dolly", "pan", "crane", "handheld")


@dataclass(frozen=True)
class CameraStyle:
    """How the export camera moves for this genre (the renderer's named trajectories)."""

    trajectory: str = "orbit"
    speed: float = 1.0  # multiplier on the trajectory's nominal angular / linear speed
    elevation_deg: float = 15.0
    distance: float = 2.5
    fov_deg: float = 40.0
    shake: float = 0.0  # handheld jitter amplitude, in degrees

    def check(self, where: str) -> None:
        if self.trajectory not in TRAJECTORIES:
            raise ConfigError(
                f"{where}.trajectory '{self.trajectory}' is unknown; "
                f"choose one of: {', '.join(TRAJECTORIES)}"
            )
        _check_range(f"{where}.speed", self.speed, 0.0, 10.0)
        _check_range(f"{where}.elevation_deg", self.elevation_deg, -89.0, 89.0)
        _check_range(f"{where}.distance", self.distance, 0.5, 20.0)
        _check_range(f"{where}.fov_deg", self.fov_deg, 5.0, 150.0)
        _check_range(f"{where}.shake", self.shake, 0.0, 10.0)


@dataclass(frozen=True)
class MotionStyle:
    """How much and how fast things move: scales motion regularizers and time sampling."""

    amount: float = 1.0  # > 1 loosens the motion regularizers, < 1 tightens them
    speed: float = 1.0  # > 1 samples clips over a longer stretch of scene time per frame
    smoothness: float = 1.0  # weight multiplier of temporal smoothness regularizers

    def check(self, where: str) -> None:
        for name in ("amount", "speed", "smoothness"):
            _check_range(f"{where}.{name}", getattr(self, name), 0.0, 10.0)


@dataclass(frozen=True)
class Grading:
    """Colour grading applied to exported frames (never to what the priors see)."""

    saturation: float = 1.0  # 0 = greyscale
    contrast: float = 1.0  # around mid-grey
    brightness: float = 0.0  # additive offset
    gamma: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel gain
    vignette: float = 0.0  # darkening at the corners, 0..1
    grain: float = 0.0  # std of per-pixel noise
    flicker: float = 0.0  # std of per-frame brightness changes

    def check(self, where: str) -> None:
        _check_range(f"{where}.saturation", self.saturation, 0.0, 3.0)
        _check_range(f"{where}.contrast", self.contrast, 0.0, 3.0)
        _check_range(f"{where}.brightness", self.brightness, -1.0, 1.0)
        _check_range(f"{where}.gamma", self.gamma, 0.1, 5.0)
        if len(self.tint) != 3:
            raise ConfigError(f"{where}.tint must hold three gains (r, g, b)")
        for channel, gain in zip("rgb", self.tint, strict=True):
            _check_range(f"{where}.tint.{channel}", gain, 0.0, 3.0)
        _check_range(f"{where}.vignette", self.vignette, 0.0, 1.0)
        _check_range(f"{where}.grain", self.grain, 0.0, 0.5)
        _check_range(f"{where}.flicker", self.flicker, 0.0, 0.5)

    def apply(self, frames: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """Grade frames `(..., T, 3, H, W)` in [0, 1]; deterministic for a given seed."""
        import torch

        luma_weights = frames.new_tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        luma = (frames * luma_weights).sum(dim=-3, keepdim=True)
        out = luma + self.saturation * (frames - luma)
        out = out * frames.new_tensor(self.tint).view(3, 1, 1)
        out = (out - 0.5) * self.contrast + 0.5 + self.brightness
        out = out.clamp(0.0, 1.0) ** (1.0 / self.gamma)
        height, width = frames.shape[-2:]
        if self.vignette > 0:
            ys = torch.linspace(-1.0, 1.0, height, dtype=frames.dtype, device=frames.device)
            xs = torch.linspace(-1.0, 1.0, width, dtype=frames.dtype, device=frames.device)
            radius2 = (ys[:, None] ** 2 + xs[None, :] ** 2) / 2.0
            out = out * (1.0 - self.vignette * radius2)
        if self.grain > 0 or self.flicker > 0:
            generator = torch.Generator(device="cpu").manual_seed(seed)
            if self.flicker > 0:
                per_frame = (*frames.shape[:-3], 1, 1, 1)
                out = out + self.flicker * torch.randn(per_frame, generator=generator).to(out)
            if self.grain > 0:
                out = out + self.grain * torch.randn(out.shape, generator=generator).to(out)
        return out.clamp(0.0, 1.0)


@dataclass(frozen=True)
class GenrePreset:
    """One genre: prompt text, camera, motion and look."""

    name: str
    description: str
    prompt_template: str  # must contain "{prompt}"
    negative_prompt: str = ""
    camera: CameraStyle = field(default_factory=CameraStyle)
    motion: MotionStyle = field(default_factory=MotionStyle)
    grading: Grading = field(default_factory=Grading)

    def compose_prompt(self, prompt: str) -> str:
        return self.prompt_template.format(prompt=prompt.strip())

    @classmethod
    def from_config(cls, node: Any) -> GenrePreset:
        """Build from an OmegaConf node or dict; one clear ConfigError on a bad value."""
        data = _to_dict(node)
        name = str(data.get("name", "?"))
        where = f"genre '{name}'"
        _reject_unknown(where, data, cls)
        try:
            preset = cls(
                name=name,
                description=str(data.get("description", "")),
                prompt_template=str(data["prompt_template"]),
                negative_prompt=str(data.get("negative_prompt", "") or ""),
                camera=_sub(CameraStyle, data, "camera", where),
                motion=_sub(MotionStyle, data, "motion", where),
                grading=_sub(Grading, data, "grading", where),
            )
        except KeyError as missing:
            raise ConfigError(f"{where} is missing the field {missing}") from None
        if "{prompt}" not in preset.prompt_template:
            raise ConfigError(f"{where}.prompt_template must contain '{{prompt}}'")
        preset.camera.check(f"{where}.camera")
        preset.motion.check(f"{where}.motion")
        preset.grading.check(f"{where}.grading")
        return preset


def _to_dict(node: Any) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    return dict(node)


def _reject_unknown(where: str, data: dict[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where} has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _sub(cls: type, data: dict[str, Any], key: str, where: str) -> Any:
    values = dict(data.get(key) or {})
    _reject_unknown(f"{where}.{key}", values, cls)
    if "tint" in values:
        values["tint"] = tuple(float(v) for v in values["tint"])
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"{where}.{key}: {error}") from None


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not low <= float(value) <= high:
        raise ConfigError(f"{name} = {value!r} is outside [{low}, {high}]")
