"""The bundled prior's own samples of the genre sweep's prompts under other guidance rules.

    python experiments/genres/none_guidance.py SETTING [SETTING ...] [--seeds 4] [--threads 2]

A SETTING is `guidance:rescale[:keep]`: classifier-free guidance scale; CFG rescale (Lin et al.
2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", their phi) applied to the
guided clean-clip prediction, 0 = off; keep = 1 keeps the genre in the unconditional branch
(text-only guidance: the look is not extrapolated away from the genre-free mixture). The 3
prompts x 4 genres of `conf/experiment/genres.yaml` are sampled with DDIM 25 steps from seeds
0..N-1, as `prior.reference` draws its clip, and read by `t2v.eval.attributes.describe`.
Prints one JSON line per setting: per genre [colour, motion, look, samples] and the misreads.
Why: genre `none` reads `none` in 0 of 12 of these samples at guidance 2 (experiments/genres).
"""

from __future__ import annotations

import argparse
import json

import torch
from diffusers import DDIMScheduler
from omegaconf import open_dict

from t2v import cli
from t2v.commands.door import resolved
from t2v.config.generate import GenerateConfig, parse_generate
from t2v.eval.attributes import describe
from t2v.priors.base import randn
from t2v.text import PromptEncoder

PROMPTS = {
    "red_ball": ("a red ball moving to the left", "red", "left"),
    "blue_cube": ("a blue cube rising up", "blue", "up"),
    "yellow_cone": ("a yellow cone moving to the right", "yellow", "right"),
}
GENRES = ("none", "noir", "cartoon", "horror")


def generate_config(*overrides: str) -> GenerateConfig:
    """The typed `t2v generate` configuration of a job (no run: no logger, no run_dir)."""
    cli.register_resolvers()
    cfg = cli.compose("generate", ["prompt=x", "logger=none", *overrides])
    with open_dict(cfg):
        cfg.pop("hydra")  # outside a Hydra app its job number is unset: it cannot resolve
    return parse_generate(resolved(cfg))


def sample(prior, cond, guidance: float, rescale: float, keep: bool, seed: int) -> torch.Tensor:
    """One clip (1, T, 3, H, W) in [0, 1]; guidance combined on the clean-clip prediction."""
    text = cond.batch(None, 1, prior.device, prior.dtype)
    height, width = prior.resolution
    clip = randn((1, 3, prior.frames, height, width), torch.Generator().manual_seed(seed), "cpu")
    texts = torch.cat([text.cond, text.uncond])
    genres = torch.cat([text.genre_ids, text.genre_ids if keep else text.uncond_genre_ids])
    scheduler = DDIMScheduler.from_config(prior.scheduler_config)
    scheduler.set_timesteps(25)
    for t in scheduler.timesteps:
        v = prior.unet(torch.cat([clip, clip]), t.expand(2), texts, genres)
        v = v if isinstance(v, torch.Tensor) else v.sample
        a, b = scheduler.alphas_cumprod[t].sqrt(), (1 - scheduler.alphas_cumprod[t]).sqrt()
        conditional, unconditional = (a * torch.cat([clip, clip]) - b * v).chunk(2)
        guided = unconditional + guidance * (conditional - unconditional)
        if rescale > 0:
            rescaled = guided * (conditional.std() / guided.std())
            guided = rescale * rescaled + (1 - rescale) * guided
        clip = scheduler.step((a * clip - guided) / b, t, clip).prev_sample  # back to v
    return ((clip.clamp(-1, 1) + 1) / 2).transpose(1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="guidance:rescale[:keep]")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prior = generate_config().prior.load("video", device="cpu")
    presets = {genre: generate_config(f"genre={genre}").genre for genre in GENRES}
    encoder = PromptEncoder.for_prior(prior)
    conds = {
        (genre, name): encoder.encode(prompt, presets[genre])
        for genre in GENRES
        for name, (prompt, _, _) in PROMPTS.items()
    }
    for setting in args.settings:
        guidance, rescale, *rest = (float(part) for part in setting.split(":"))
        keep = bool(rest and rest[0])
        tally = {genre: [0, 0, 0, 0] for genre in GENRES}
        misreads: dict[str, list[str]] = {}
        with torch.no_grad():
            for (genre, name), cond in conds.items():
                _, colour, motion = PROMPTS[name]
                for seed in range(args.seeds):
                    seen = describe(sample(prior, cond, guidance, rescale, keep, seed))
                    row = tally[genre]
                    row[0] += seen.colour == colour
                    row[1] += seen.motion == motion
                    row[2] += seen.genre == genre
                    row[3] += 1
                    if seen.genre != genre:
                        misreads.setdefault(genre, []).append(seen.genre)
        print(
            json.dumps({"setting": setting, "per_genre": tally, "misreads": misreads}),
            flush=True,
        )


if __name__ == "__main__":
    main()
