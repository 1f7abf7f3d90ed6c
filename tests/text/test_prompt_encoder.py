"""PromptEncoder: genre composition, view texts, genre ids, and the embedding cache.

The text encoder is a tiny CLIP built in code (character-level tokenizer written on the spot);
text-encoder forwards are counted with a global module forward hook on the real model.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from transformers import CLIPTextModel

from t2v.errors import ConfigError
from t2v.genres import GenrePreset
from t2v.priors.tiny import save_tiny_clip
from t2v.schema import parse
from t2v.text import PromptEncoder, TextEncoderSpec
from t2v.text.cache import EmbeddingCache, embedding_key

GENRE_DIR = Path(__file__).resolve().parents[2] / "conf" / "genre"
GENRE_FILES = sorted(GENRE_DIR.glob("*.yaml"))


def _genre(path: Path) -> GenrePreset:
    return parse(GenrePreset, yaml.safe_load(path.read_text(encoding="utf-8")), "genre")


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_clip")
    save_tiny_clip(folder, seed=0)
    return folder


class ForwardCounter:
    """Counts CLIPTextModel forwards anywhere in the process while active."""

    def __enter__(self):
        self.count = 0

        def hook(module, args, output):
            if isinstance(module, CLIPTextModel):
                self.count += 1

        self.handle = torch.nn.modules.module.register_module_forward_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_every_genre_file_is_tested():
    names = {path.stem for path in GENRE_FILES}
    assert {"none", "action", "cartoon", "noir", "horror"} <= names


@pytest.mark.parametrize("path", GENRE_FILES, ids=lambda p: p.stem)
def test_composition_for_every_genre(path):
    genre = _genre(path)
    genres = ("none", "action", "cartoon", "documentary", "horror", "noir", "scifi")
    encoder = PromptEncoder(TextEncoderSpec("clip", "unused"), genres=genres, device="cpu")
    texts = encoder.view_texts("  a red ball bouncing ", genre)

    def compose(subject):
        return genre.prompt_template.replace("{prompt}", subject)

    assert texts == {
        "any": compose("a red ball bouncing"),
        "front": compose("a red ball bouncing, front view"),
        "side": compose("a red ball bouncing, side view"),
        "back": compose("a red ball bouncing, back view"),
        "overhead": compose("a red ball bouncing, overhead view"),
    }
    assert genre.negative_prompt and genre.negative_prompt not in texts["front"]
    assert encoder.genre_id(genre.name) == (genres.index(genre.name) if genre.name in genres else 0)


def test_view_independent_texts_are_all_the_composed_prompt():
    encoder = PromptEncoder(TextEncoderSpec("clip", "unused"), view_dependent=False, device="cpu")
    texts = encoder.view_texts("a cat", _genre(GENRE_DIR / "noir.yaml"))
    assert len(set(texts.values())) == 1 and "a cat" in texts["back"]


def test_unknown_genre_maps_to_none_and_empty_prompt_is_refused():
    encoder = PromptEncoder(TextEncoderSpec("clip", "unused"), genres=("none", "action"))
    assert encoder.genre_id("action") == 1
    assert encoder.genre_id("western") == 0
    with pytest.raises(ConfigError, match="prompt is empty"):
        encoder.encode("   ")


def test_encoding_is_the_text_encoders_and_cached_in_memory_and_on_disk(clip_folder, tmp_path):
    spec = TextEncoderSpec("clip", str(clip_folder), local_files_only=True)
    action = _genre(GENRE_DIR / "action.yaml")
    encoder = PromptEncoder(spec, genres=("none", "action"), cache_dir=tmp_path, device="cpu")
    with ForwardCounter() as counter:
        first = encoder.encode("a red ball", action)
        assert counter.count == 1  # six texts (five views + negative) in one batch
        assert encoder.encoder_loads == 1 and encoder._encoder is None  # freed after use
        again = encoder.encode("a red ball", action)
        assert counter.count == 1  # memory cache
        fresh = PromptEncoder(spec, genres=("none", "action"), cache_dir=tmp_path, device="cpu")
        from_disk = fresh.encode("a red ball", action)
        assert counter.count == 1 and fresh.encoder_loads == 0  # disk cache, encoder never loaded
        fresh.encode("a blue ball", action)
        assert counter.count == 2
    direct = spec.load("cpu").encode([first.texts["back"], action.negative_prompt])
    assert torch.allclose(first.cond["back"], direct[0], atol=1e-6)
    assert torch.allclose(first.uncond["front"], direct[1], atol=1e-6)
    assert not torch.allclose(first.cond["back"], first.cond["front"])
    for view in first.views:
        assert torch.equal(again.cond[view], first.cond[view])
        assert torch.equal(from_disk.cond[view], first.cond[view])
    assert first.genre_id == 1 and first.negative_prompt == action.negative_prompt
    key = embedding_key(spec.model_id, first.texts["side"])
    assert (tmp_path / key[:2] / f"{key}.safetensors").is_file()


def test_batch_stacks_per_clip_views_and_genre_ids(clip_folder):
    spec = TextEncoderSpec("clip", str(clip_folder), local_files_only=True)
    encoder = PromptEncoder(spec, genres=("none", "horror"), device="cpu")
    cond = encoder.encode("a ghost", _genre(GENRE_DIR / "horror.yaml"))
    batch = cond.batch(["back", "front", "back"], dtype=torch.float64)
    assert batch.cond.shape == (3, 64, 32) and batch.cond.dtype == torch.float64
    assert torch.equal(batch.cond[0].float(), cond.cond["back"])
    assert torch.equal(batch.cond[1].float(), cond.cond["front"])
    assert batch.genre_ids.tolist() == [1, 1, 1]
    assert batch.uncond_genre_ids.tolist() == [0, 0, 0]
    assert torch.equal(cond.batch(None, 2).cond[1], cond.cond["any"])
    with pytest.raises(ValueError, match="unknown view"):
        cond.batch(["left"])


def test_torn_cache_file_is_a_miss(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.save("m", "text", torch.ones(3))
    assert torch.equal(cache.load("m", "text"), torch.ones(3))
    cache.path("m", "text").write_bytes(b"not a safetensors file")
    assert cache.load("m", "text") is None
    assert cache.load("other model", "text") is None


def test_bundled_minilm_encoder_gives_sentence_vectors(tmp_path):
    encoder = PromptEncoder(TextEncoderSpec("minilm"), genres=("none",), cache_dir=tmp_path)
    cond = encoder.encode("a red disc moving left")
    assert cond.cond["front"].shape == (384,)
    assert float(cond.cond["front"].norm()) == pytest.approx(1.0, abs=1e-5)
    similarity = float(cond.cond["front"] @ cond.cond["back"])
    assert 0.5 < similarity < 0.9999


def test_bundled_token_encoder_gives_padded_token_states(tmp_path):
    spec = TextEncoderSpec("minilm_tokens")
    encoder = PromptEncoder(spec, genres=("none",), cache_dir=tmp_path)
    cond = encoder.encode("a red disc moving left")
    assert cond.model_id == spec.model_id != TextEncoderSpec("minilm").model_id
    assert cond.cond["any"].shape == (64, 384)
    real = int((cond.cond["any"].abs().sum(-1) > 0).sum())
    assert 5 < real < 20 and cond.cond["any"][real:].abs().max() == 0
    assert cond.uncond["any"].shape == (64, 384)


WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.distributed as dist
    from transformers import CLIPTextModel
    from t2v.text import PromptEncoder, TextEncoderSpec

    rank = int(os.environ["RANK"])
    dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=rank, world_size=2)
    forwards = []
    torch.nn.modules.module.register_module_forward_hook(
        lambda m, a, o: forwards.append(1) if isinstance(m, CLIPTextModel) else None
    )
    spec = TextEncoderSpec("clip", sys.argv[2], local_files_only=True)
    cond = PromptEncoder(spec, cache_dir=sys.argv[3], device="cpu").encode("a red ball")
    front = cond.cond["front"][0, :4].tolist()
    print(json.dumps({"rank": rank, "forwards": len(forwards), "front": front}))
    dist.destroy_process_group()
    """
)


@pytest.mark.slow
def test_rank_zero_encodes_while_other_ranks_wait(clip_folder, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    args = [str(tmp_path / "store"), str(clip_folder), str(tmp_path / "cache")]
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), *args],
            env={**os.environ, "RANK": str(rank), "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    results = {}
    for worker in workers:
        out, _ = worker.communicate(timeout=240)
        assert worker.returncode == 0
        line = json.loads(out.strip().splitlines()[-1])
        results[line["rank"]] = line
    assert results[0]["forwards"] == 1
    assert results[1]["forwards"] == 0  # read what rank 0 wrote after the barrier
    assert results[0]["front"] == pytest.approx(results[1]["front"])
