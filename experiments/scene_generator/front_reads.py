"""Front-view reads of a training checkpoint's EMA generator, without a run dir (a quick curve).

For 8 training prompts, 8 held-out phrasings and 8 unseen colour x motion x genre combinations
(`t2v.pretrain.scene_prompts`, the recipe's seed and split), renders each prompt's field from its
genre's front camera (16 frames at 32x32 over the scene time) and reads colour and motion with
the attribute evaluator `t2v evaluate` uses (`t2v.eval.attributes.describe`).

Usage: python experiments/scene_generator/front_reads.py RUN_DIR/generator/checkpoints/last.ckpt
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from t2v.eval.attributes import describe, screen_motion
from t2v.generator import GeneratorText, build_generator
from t2v.pretrain.generator_config import genre_preset
from t2v.pretrain.scene_prompts import heldout_prompts, training_prompts
from t2v.pretrain.train import load_checkpoint
from t2v.render import VolumeRenderer, genre_trajectory_cameras


def main() -> None:
    checkpoint = load_checkpoint(Path(sys.argv[1]))
    manifest = checkpoint["hyper_parameters"]["manifest"]
    generator = build_generator(manifest)
    prefix = "ema_generator."
    state = checkpoint["state_dict"]
    generator.load_state_dict(
        {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    )
    genres = tuple(manifest["genres"])
    sets = {
        "train": training_prompts(256, genres, 7, 0)[:8],
        "heldout_phrasing": heldout_prompts(8, genres, 7, 1, "heldout_phrasing"),
        "unseen_combination": heldout_prompts(8, genres, 7, 2, "train"),
    }
    text, renderer = GeneratorText(), VolumeRenderer().eval()
    for name, prompts in sets.items():
        captions = [prompt.caption for prompt in prompts]
        vectors = text.encode(captions, tokens=generator.reads_tokens)
        colour = motion = 0
        for prompt, vector in zip(prompts, vectors, strict=True):
            field = generator.field_for(vector, prompt.genre)
            camera = genre_preset(prompt.genre).camera
            cameras = genre_trajectory_cameras(camera, 16, 32, 32, trajectory="static")
            with torch.no_grad():
                video = renderer.render(field, cameras, torch.linspace(0, 1, 16)[None]).rgb[0]
            read = describe(video)
            colour += read.colour == prompt.colour
            motion += read.motion == screen_motion(prompt.motion)
        count = len(prompts)
        step = checkpoint["global_step"]
        print(f"step {step} {name}: colour {colour}/{count}, motion {motion}/{count}", flush=True)


if __name__ == "__main__":
    main()
