"""Genre presets as typed settings (prompt text, camera, motion, look), and colour grading.

A genre is data. Adding `conf/genre/western.yaml` (or a file in a directory passed with
`hydra.searchpath`) is all it takes; `parse(GenrePreset, plain_node, "genre")` checks it and a
bad value is one ConfigError naming its key (e.g. `genre.camera.speed_deg_s`).
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Field

from t2v.schema import Float, Text, settings

if TYPE_CHECKING:
    import torch

Trajectory = Literal["orbit", "static", "dolly", "pan", "crane", "handheld"]
TRAJECTORIES: tuple[str, ...] = get_args(Trajectory)


def _has_prompt_slot(template: str) -> str:
    if "{prompt}" not in template:
        raise ValueError(f"{template!r} must contain '{{prompt}}' (where the prompt goes)")
    return template


PromptTemplate = Annotated[Text, AfterValidator(_has_prompt_slot)]
Scale = Annotated[Float, Field(ge=0.0, le=10.0)]  # a multiplier around 1
Gain = Annotated[Float, Field(ge=0.0, le=3.0)]


@settings
class CameraStyle:
    """How the export camera moves for this genre (the renderer's named trajectories), in units
    per second of video, so the exported camera moves as fast to a viewer at any clip length."""

    trajectory: Trajectory = "orbit"
    speed_deg_s: Annotated[Float, Field(ge=0.0, le=360.0)] = 24.0  # orbit, pan, crane: deg/s
    speed_units_s: Annotated[Float, Field(ge=0.0, le=5.0)] = 0.15  # dolly: distance units/s
    shake_hz: Annotated[Float, Field(ge=0.0, le=10.0)] = 0.5  # handheld: slowest sway, cycles/s
    clip_sweep: Scale = 1.0  # multiplier on how far the stages' training cameras move in a clip
    elevation_deg: Annotated[Float, Field(ge=-89.0, le=89.0)] = 15.0
    distance: Annotated[Float, Field(ge=0.5, le=20.0)] = 2.5
    fov_deg: Annotated[Float, Field(ge=5.0, le=150.0)] = 40.0
    shake: Scale = 0.0  # handheld jitter amplitude, in degrees

    def speed_for(self, trajectory: str) -> float:
        """This genre's speed for a trajectory, in its unit per second (a static view: 0)."""
        if trajectory in ("orbit", "pan", "crane"):
            return float(self.speed_deg_s)
        if trajectory == "dolly":
            return float(self.speed_units_s)
        if trajectory == "handheld":
            return float(self.shake_hz)
        return 0.0


def upgrade_camera(camera: dict[str, Any]) -> dict[str, Any]:
    """A `genre.camera` node of a run written before export speeds were per second: its one
    `speed` multiplier also scaled the stages' training cameras, which is `clip_sweep` now; the
    export speeds keep their defaults (re-renders of such a run move at today's pace)."""
    if "speed" not in camera:
        return camera
    upgraded = {key: value for key, value in camera.items() if key != "speed"}
    upgraded.setdefault("clip_sweep", camera["speed"])
    return upgraded


@settings
class MotionStyle:
    """How much and how fast things move: scales motion regularizers and time sampling."""

    amount: Scale = 1.0  # > 1 loosens the motion regularizers, < 1 tightens them
    speed: Scale = 1.0  # > 1 samples clips over a longer stretch of scene time per frame
    smoothness: Scale = 1.0  # weight multiplier of temporal smoothness regularizers


@settings
class Grading:
    """Colour grading applied to exported frames (never to what the priors see)."""

    saturation: Gain = 1.0  # 0 = greyscale
    contrast: Gain = 1.0  # around mid-grey
    brightness: Annotated[Float, Field(ge=-1.0, le=1.0)] = 0.0  # additive offset
    gamma: Annotated[Float, Field(ge=0.1, le=5.0)] = 1.0
    tint: tuple[Gain, Gain, Gain] = (1.0, 1.0, 1.0)  # per-channel gain (r, g, b)
    vignette: Annotated[Float, Field(ge=0.0, le=1.0)] = 0.0  # darkening at the corners
    grain: Annotated[Float, Field(ge=0.0, le=0.5)] = 0.0  # std of per-pixel noise
    flicker: Annotated[Float, Field(ge=0.0, le=0.5)] = 0.0  # std of per-frame brightness changes

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


@settings
class GenrePreset:
    """One genre: prompt text, camera, motion and look."""

    name: Text
    prompt_template: PromptTemplate  # e.g. "{prompt}, film noir"
    description: Text = ""
    negative_prompt: Text = ""
    camera: CameraStyle = field(default_factory=CameraStyle)
    motion: MotionStyle = field(default_factory=MotionStyle)
    grading: Grading = field(default_factory=Grading)

    def compose_prompt(self, prompt: str) -> str:
        return self.prompt_template.format(prompt=prompt.strip())
