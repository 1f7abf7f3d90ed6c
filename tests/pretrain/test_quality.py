"""The held-out quality check's prompts."""

from t2v.pretrain.quality import heldout_prompts


def test_prompts_skip_the_unconditional_genre_slot():
    prompts = heldout_prompts(40, seed=0, genres=["", "none", "noir"], split="heldout")
    assert len(prompts) == 40
    assert {p["genre"] for p in prompts} == {"none", "noir"}
    assert all(p["caption"] and p["colour"] and p["motion"] for p in prompts)
