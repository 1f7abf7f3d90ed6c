"""Caption-embedding cache and the replay pool over a clip stream."""

import itertools

import torch

from t2v.pretrain.clip_pool import ClipPool
from t2v.pretrain.text_cache import CachedTextEncoder


def test_cache_encodes_each_caption_once_and_keeps_order():
    calls: list[list[str]] = []

    def encode(texts):
        calls.append(list(texts))
        return torch.tensor([[float(len(t))] for t in texts])

    cache = CachedTextEncoder(encode)
    first = cache.embed(["bb", "a", "bb"])
    second = cache.embed(["a", "ccc"])
    assert first[:, 0].tolist() == [2.0, 1.0, 2.0]
    assert second[:, 0].tolist() == [1.0, 3.0]
    assert calls == [["a", "bb"], ["ccc"]]


def test_cache_keeps_token_states_without_padding_and_pads_them_back():
    def encode(texts):
        states = torch.zeros(len(texts), 6, 2)
        for row, text in enumerate(texts):
            states[row, : len(text)] = torch.arange(1.0, len(text) + 1)[:, None]
        return states

    cache = CachedTextEncoder(encode)
    first = cache.embed(["abc", "a"])
    torch.testing.assert_close(first, encode(["abc", "a"]))
    assert cache.cache["abc"].shape == (3, 2) and cache.cache["a"].shape == (1, 2)
    torch.testing.assert_close(cache.embed(["a", "abc"]), encode(["a", "abc"]))


def test_pool_draws_from_the_stream_at_the_refresh_rate():
    consumed = []

    def stream():
        for index in itertools.count():
            consumed.append(index)
            yield {"index": index}

    class Source:
        def __iter__(self):
            return stream()

    draws = list(itertools.islice(iter(ClipPool(Source(), size=10, refresh=0.25, seed=3)), 40))
    assert len(consumed) == 10 + 40 // 4  # the initial fill plus one new clip per 4 draws
    assert {d["index"] for d in draws} <= set(consumed)
    assert max(d["index"] for d in draws) >= 10  # new clips do reach the batches
    consumed.clear()
    again = list(itertools.islice(iter(ClipPool(Source(), size=10, refresh=0.25, seed=3)), 40))
    assert [d["index"] for d in again] == [d["index"] for d in draws]
