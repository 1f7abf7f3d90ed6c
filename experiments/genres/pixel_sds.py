"""Score distillation on free pixels: does SDS with the bundled prior hold what the prior samples?

No field, no renderer: one 32x32 image (sigmoid logits, Adam lr 0.05, 100 steps) distilled with
the static stage's prior (`prior.image`: the video prior asked about a clip that does not move)
and its timestep schedule. Each case starts from grey or from the first frame of the prior's own
DDIM sample of the same text (25 steps, guidance 2), and reads the result with the attribute
evaluator. `draws` is how many (timestep, noise) pairs each step averages; `ism` replaces SDS
by interval score matching (LucidDreamer: DDIM-invert the image to s = t - 200 with the
unconditional branch, one more inverted step to t, gradient eps_cfg(x_t) - eps_uncond(x_s));
`roundtrip` pulls the image toward its DDIM round trip (5 guided steps up to t, 5 back down).

    python experiments/genres/pixel_sds.py            # every case below, about 15 minutes
Writes pixel_sds.json next to this file.
"""

from __future__ import annotations

import itertools
import json
import logging
import warnings
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import torch
from omegaconf import open_dict

from t2v import cli
from t2v.commands.door import resolved
from t2v.config.generate import GenerateConfig, parse_generate
from t2v.eval.attributes import describe
from t2v.generation.training import GuidanceFactory
from t2v.pretrain.prior_folder import load_prior
from t2v.pretrain.sampling import sample_video
from t2v.priors.sds import to_epsilon
from t2v.stages.base import Guidance

HERE = Path(__file__).parent
RED, YELLOW = "a red ball moving to the left", "a yellow cone moving to the right"


@dataclass(frozen=True)
class Case:
    prompt: str
    genre: str
    init: str = "grey"  # or "sample": the prior's own DDIM sample, first frame
    guidance: float = 3.0
    draws: int = 1
    seed: int = 0
    method: str = "sds"  # or "ism", "roundtrip"


CASES = (
    *(Case(RED, "horror", seed=s) for s in range(4)),
    *(Case(RED, "horror", seed=s, draws=8) for s in range(1, 4)),
    *(Case(RED, "horror", guidance=g) for g in (1.0, 2.0, 5.0, 10.0)),
    *(Case(YELLOW, "none", guidance=g) for g in (3.0, 7.5, 15.0, 30.0)),
    Case(YELLOW, "none", init="sample"),
    Case(RED, "horror", init="sample"),
    Case(RED, "noir", init="sample"),
    Case(YELLOW, "none", method="ism"),
    Case(RED, "horror", method="ism"),
    Case(RED, "noir", method="ism"),
    *(
        Case(p, g, guidance=2.0, method="roundtrip")
        for p, g in ((YELLOW, "none"), (RED, "horror"), (RED, "noir"))
    ),
)


def generate_config(*overrides: str) -> GenerateConfig:
    """The typed `t2v generate` configuration of a job (no run: no logger, no run_dir, no
    embedding cache; no reference clip, since no field is pulled towards one here)."""
    cli.register_resolvers()
    fixed = ["logger=none", "cache_dir=null", "prior.reference=null"]
    cfg = cli.compose("generate", [*fixed, *overrides])
    with open_dict(cfg):
        cfg.pop("hydra")  # outside a Hydra app its job number is unset: it cannot resolve
    return parse_generate(resolved(cfg))


def guidance_for(case: Case) -> Guidance:
    config = generate_config(
        f"prompt={case.prompt}",
        f"genre={case.genre}",
        f"prior.image.guidance_scale={case.guidance}",
    )
    return GuidanceFactory(config)(torch.device("cpu"))


def initial_image(case: Case) -> torch.Tensor:
    if case.init == "grey":
        return torch.full((3, 32, 32), 0.5)
    prior = load_prior(str(files("t2v") / "assets/priors/bundled"))
    text = generate_config(f"prompt={case.prompt}", f"genre={case.genre}").genre
    video = sample_video(prior, [text.compose_prompt(case.prompt)], [case.genre], guidance=2.0)
    return video[0][0]


class StillClipDenoiser:
    """The video prior's guided and unguided noise estimates on a still clip, and DDIM moves."""

    def __init__(self, guidance: Guidance) -> None:
        self.prior = guidance.video
        self.cond = guidance.image_cond.batch(None, 1)
        self.alphas = self.prior.alphas_cumprod
        self.scale = guidance.image.config.guidance_scale

    def epsilons(self, noisy: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(guided, unconditional) noise estimates at timestep `t`."""
        cond = self.cond
        out = self.prior.unet(
            torch.cat([noisy, noisy]),
            torch.tensor([t, t]),
            torch.cat([cond.cond, cond.uncond]),
            torch.cat([cond.genre_ids, cond.uncond_genre_ids]),
        )
        alpha = self.alphas[t]
        kind = self.prior.prediction_type
        eps_cond, eps_uncond = (
            to_epsilon(o, noisy, alpha, kind) for o in getattr(out, "sample", out).chunk(2)
        )
        return eps_uncond + self.scale * (eps_cond - eps_uncond), eps_uncond

    def ddim(self, x: torch.Tensor, start: int, end: int, eps: torch.Tensor) -> torch.Tensor:
        clean = (x - (1 - self.alphas[start]).sqrt() * eps) / self.alphas[start].sqrt()
        return self.alphas[end].sqrt() * clean + (1 - self.alphas[end]).sqrt() * eps


def method_gradient(method: str, denoiser: StillClipDenoiser, still: torch.Tensor, t: int):
    """d/d(pixels) of a still clip `(1, T, 3, H, W)` in [0, 1] for `ism` or `roundtrip`."""
    x = (still * 2 - 1).transpose(1, 2)
    with torch.no_grad():
        if method == "ism":  # LucidDreamer: unconditional inversion to s = t - 200, then to t
            s, tau = max(t - 200, 0), 0
            eps = denoiser.epsilons(x, 0)[1]
            while tau < s:
                following = min(tau + 200, s)
                x, tau = denoiser.ddim(x, tau, following, eps), following
                eps = denoiser.epsilons(x, tau)[1]
            guided = denoiser.epsilons(denoiser.ddim(x, s, t, eps), t)[0]
            gradient = (1 - denoiser.alphas[t]) * (guided - eps)
        else:  # roundtrip: 5 guided DDIM steps up to t and 5 back down; pull toward the result
            grid = [round(t * k / 5) for k in range(6)]
            trip = x
            for start, end in itertools.pairwise(grid):
                trip = denoiser.ddim(trip, start, end, denoiser.epsilons(trip, start)[0])
            for start, end in itertools.pairwise(grid[::-1]):
                trip = denoiser.ddim(trip, start, end, denoiser.epsilons(trip, start)[0])
            gradient = x - trip
    return gradient.transpose(1, 2) * 2


def run(case: Case) -> dict[str, object]:
    torch.manual_seed(case.seed)
    guidance = guidance_for(case)
    logits = torch.logit(initial_image(case).clamp(0.01, 0.99)).requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=0.05)
    denoiser = StillClipDenoiser(guidance)
    generator = torch.Generator().manual_seed(case.seed)
    for step in range(100):
        image = torch.sigmoid(logits)
        still = image[None, None].expand(1, case.draws, -1, -1, -1)
        optimizer.zero_grad()
        if case.method != "sds":
            frames = image[None, None].expand(1, 8, -1, -1, -1)
            t = int(guidance.video.sample_timesteps(1, step, generator)[0])
            gradient = method_gradient(case.method, denoiser, frames.detach(), t)
            (frames * gradient).sum().backward()
        else:  # each of the `draws` copies gets its own timestep and noise
            guidance.image.sds(
                still, guidance.image_cond, step=step, generator=generator
            ).loss.backward()
        optimizer.step()
    image = torch.sigmoid(logits).detach()
    seen = describe(image[None].expand(8, -1, -1, -1))
    border = torch.cat([image[:, :6].flatten(), image[:, -6:].flatten()]).mean()
    centre = image[:, 12:20, 12:20].mean(dim=(1, 2))
    return {
        **asdict(case),
        "border": round(float(border), 2),
        "centre_rgb": [round(float(v), 2) for v in centre],
        "colour": seen.colour,
        "genre_look": seen.genre,
    }


def clean_prediction(timesteps: tuple[int, ...] = (950, 800, 600, 400, 200)) -> dict:
    """Border brightness of the clean clip the horror prompt's conditional and unconditional
    branches predict from a noised grey still, mean of 16 noises per timestep."""
    denoiser = StillClipDenoiser(guidance_for(Case(RED, "horror")))
    grey = torch.zeros(1, 3, 8, 32, 32)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[6:-6, 6:-6] = False
    readings = {}
    for t in timesteps:
        alpha, scale = denoiser.alphas[t], denoiser.scale
        clean = {"conditional": [], "unconditional": []}
        for index in range(16):
            noise = torch.randn(grey.shape, generator=torch.Generator().manual_seed(index))
            noisy = alpha.sqrt() * grey + (1 - alpha).sqrt() * noise
            with torch.no_grad():
                guided, uncond = denoiser.epsilons(noisy, t)
            cond = uncond + (guided - uncond) / scale  # undo the guidance: the conditional branch
            for name, eps in (("conditional", cond), ("unconditional", uncond)):
                clean[name].append((noisy - (1 - alpha).sqrt() * eps) / alpha.sqrt())
        readings[str(t)] = {
            name: round(float((torch.stack(v).mean(0).mean(2)[0][:, border].mean() + 1) / 2), 2)
            for name, v in clean.items()
        }
    return readings


def main() -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.set_num_threads(2)
    readings = clean_prediction()
    print(json.dumps({"clean_prediction": readings}), flush=True)
    results = []
    for case in CASES:
        results.append(run(case))
        print(json.dumps(results[-1]), flush=True)
    output = {"clean_prediction": readings, "cases": results}
    (HERE / "pixel_sds.json").write_text(json.dumps(output, indent=1) + "\n")


if __name__ == "__main__":
    main()
