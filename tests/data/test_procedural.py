"""ProceduralVideoText: determinism, worker sharding, value ranges, motion direction, captions."""

import itertools

import pytest
import torch
from torch.utils.data import DataLoader

from t2v.data.procedural import ProceduralVideoText
from t2v.data.vocabulary import COLOURS, MOTIONS, SHAPES
from t2v.errors import ConfigError


def test_items_are_deterministic_by_seed_and_differ_across_seeds() -> None:
    first = ProceduralVideoText(seed=3).item(5)
    again = ProceduralVideoText(seed=3).item(5)
    other = ProceduralVideoText(seed=4).item(5)
    assert first["caption"] == again["caption"]
    torch.testing.assert_close(first["video"], again["video"], atol=0, rtol=0)
    assert (first["video"] - other["video"]).abs().mean() > 0.02


def test_video_shape_range_and_item_keys() -> None:
    item = ProceduralVideoText(frames=6, height=24, width=40).item(0)
    assert set(item) == {"video", "mask", "caption", "genre", "colour", "shape", "motion"}
    video = item["video"]
    assert video.shape == (6, 3, 24, 40) and item["mask"].shape == (6, 1, 24, 40)
    assert video.dtype == torch.float32
    assert float(video.min()) >= 0.0 and float(video.max()) <= 1.0
    assert float(video.std()) > 0.03  # an object over a background, not a flat frame


def test_dataloader_workers_yield_the_same_stream_as_one_process() -> None:
    dataset = ProceduralVideoText(seed=1, length=6)
    direct = [item["caption"] for item in dataset]
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    assert [item["caption"] for item in loader] == direct
    assert len(dataset) == 6


def test_stream_resumes_at_start() -> None:
    whole = [i["caption"] for i in ProceduralVideoText(seed=2, length=5)]
    tail = [i["caption"] for i in ProceduralVideoText(seed=2, length=2, start=3)]
    assert tail == whole[3:]


def _centroid_x(video: torch.Tensor) -> torch.Tensor:
    """Centroid column per frame of the pixels that differ most from the frame median."""
    colour = video - video.median(dim=-1, keepdim=True).values.median(dim=-2, keepdim=True).values
    weight = colour.abs().sum(dim=1)
    weight = (weight > 0.5 * weight.amax(dim=(-1, -2), keepdim=True)).float()
    cols = torch.arange(video.shape[-1], dtype=torch.float32)
    return (weight.sum(dim=1) * cols).sum(-1) / weight.sum(dim=(1, 2))


@pytest.mark.parametrize("motion, sign", [("left", -1.0), ("right", 1.0)])
def test_left_means_towards_minus_x_in_the_image(motion: str, sign: float) -> None:
    dataset = ProceduralVideoText(seed=0, motions=[motion], genres=["none"])
    for index in range(4):
        xs = _centroid_x(dataset.item(index)["video"])
        assert sign * float(xs[-1] - xs[0]) > 4.0  # pixels, on a 32-pixel frame


def test_captions_cover_the_vocabulary_and_attributes_are_canonical() -> None:
    dataset = ProceduralVideoText(seed=0, genre_caption_probability=0.0)
    specs = [dataset.spec(i) for i in range(400)]
    assert {s.colour for s, _ in specs} == set(COLOURS)
    assert {s.shape for s, _ in specs} == set(SHAPES)
    assert {s.motion for s, _ in specs} == set(MOTIONS)
    captions = {caption for _, caption in specs}
    assert len(captions) > 380  # templates x synonyms x verbs: nearly every caption is new


def test_unknown_attribute_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown genre"):
        ProceduralVideoText(genres=["opera"])
    with pytest.raises(ConfigError, match="unknown genre\\(s\\) ''"):  # "" shows as ''
        ProceduralVideoText(genres=["", "none"])
    with pytest.raises(ConfigError, match="no colour given"):
        ProceduralVideoText(colours=[])
    with pytest.raises(ConfigError, match="split"):
        ProceduralVideoText(split="test")


def test_restricting_attributes_restricts_items() -> None:
    dataset = ProceduralVideoText(colours=["red"], motions=["up", "down"], genres=["noir"])
    items = [dataset.spec(i)[0] for i in range(30)]
    assert {s.colour for s in items} == {"red"}
    assert {s.motion for s in items} == {"up", "down"}
    assert {s.genre for s in items} == {"noir"}
    assert len(list(itertools.islice(iter(dataset), 2))) == 2


def _clips(genre: str, count: int = 6, **kwargs) -> torch.Tensor:
    dataset = ProceduralVideoText(seed=5, genres=[genre], **kwargs)
    return torch.stack([dataset.item(i)["video"] for i in range(count)])


def test_genre_looks_have_their_signatures() -> None:
    plain, noir, horror, scifi, cartoon = (
        _clips(g) for g in ("none", "noir", "horror", "scifi", "cartoon")
    )

    def chroma(videos: torch.Tensor) -> float:
        return float((videos.amax(dim=2) - videos.amin(dim=2)).mean())

    assert chroma(noir) < 0.4 * chroma(plain)  # grey

    def contrast(videos: torch.Tensor) -> float:
        luma = (videos * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(dim=2)
        return float(luma.flatten(1).std(dim=1).mean())

    assert contrast(noir) > 1.15 * contrast(plain)  # measured 0.140 against 0.110
    assert float(horror.mean()) < 0.6 * float(plain.mean())  # dark
    red, green = horror[:, :, 0].mean(), horror[:, :, 1].mean()
    assert float(red) > 1.2 * float(green)  # red tint
    flicker = horror.mean(dim=(2, 3, 4)).diff(dim=1).abs().mean()
    assert float(flicker) > 3 * float(plain.mean(dim=(2, 3, 4)).diff(dim=1).abs().mean())
    assert float(scifi.median()) < 0.15  # neon on dark
    assert chroma(cartoon) > chroma(plain)  # saturated
    assert float((cartoon < 0.08).all(dim=2).float().mean()) > 0.005  # dark outlines


def test_documentary_moves_slower_than_action() -> None:
    slow = _clips("documentary", motions=["right"], count=4)
    fast = _clips("action", motions=["right"], count=4)
    travel_slow = torch.stack([_centroid_x(v) for v in slow])
    travel_fast = torch.stack([_centroid_x(v) for v in fast])
    span_slow = (travel_slow[:, -1] - travel_slow[:, 0]).mean()
    span_fast = (travel_fast[:, -1] - travel_fast[:, 0]).mean()
    assert float(span_fast) > 1.8 * float(span_slow) > 0


def test_heldout_split_captions_use_heldout_colour_words() -> None:
    from t2v.data.vocabulary import COLOUR_WORDS

    dataset = ProceduralVideoText(seed=0, split="heldout", genre_caption_probability=0.0)
    for index in range(20):
        spec, caption = dataset.spec(index)
        assert any(word in caption for word in COLOUR_WORDS[spec.colour].heldout), caption


def test_mask_covers_the_object_and_moves_with_it():
    dataset = ProceduralVideoText(frames=6, height=32, width=32, seed=4, motions=["left"])
    item = dataset.item(0)
    mask = item["mask"]
    assert mask.shape == (6, 1, 32, 32) and mask.min() >= 0 and mask.max() <= 1
    assert 0.005 < float(mask.mean()) < 0.4  # a small object on a large background
    columns = torch.arange(32, dtype=torch.float32)
    centre_x = (mask[:, 0].sum(dim=1) * columns).sum(dim=-1) / mask[:, 0].sum(dim=(1, 2))
    assert float(centre_x[-1]) < float(centre_x[0]) - 2  # left, by pixels


def test_a_motion_listed_twice_is_drawn_about_twice_as_often() -> None:
    dataset = ProceduralVideoText(motions=["left", "left", "spin"], genres=["none"])
    drawn = [dataset.spec(index)[0].motion for index in range(600)]
    assert 1.6 < drawn.count("left") / drawn.count("spin") < 2.5
