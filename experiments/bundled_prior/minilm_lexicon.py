"""Would a far wider colour vocabulary teach MiniLM's unseen colour words? (no diffusion model)

`minilm_ceiling.py` reads held-out colour words from the 8 x 7-10 training colour words. Here
the training side is ~480 named colours instead: the XKCD colour-survey and CSS4 names
(`colour_names.json`), each given the canonical colour whose hue centre (the attribute
evaluator's, genre none) is nearest to its own hue; greys, browns and names between two hues
are dropped, and so is every name that contains a held-out word or its stem ("gold" for
"golden", "foam" for "seafoam"), so the 17 held-out words stay unseen. Each held-out word is then
read by k-nearest neighbours (cosine) and by a linear probe, embedded alone and inside a caption.

Writes minilm_lexicon.json next to this file. About 10 seconds.
"""

from __future__ import annotations

import colorsys
import json
from pathlib import Path

import torch

from t2v.data.vocabulary import COLOUR_WORDS
from t2v.eval.attribute_tables import HUE_CENTRES
from t2v.text.minilm import MiniLMEncoder

HERE = Path(__file__).parent
HELDOUT_STEMS = (
    *(word for words in COLOUR_WORDS.values() for word in words.heldout),
    "vermil",  # XKCD spells it "vermillion"
    "gold",
    "foam",
)
CENTRES = HUE_CENTRES["none"]
CLASSES = sorted(CENTRES, key=CENTRES.__getitem__)
TEMPLATES = ("{}", "a {} ball moves to the left")


def hue_distance(a: float, b: float) -> float:
    return min(abs(a - b) % 360, 360 - abs(a - b) % 360)


def canonical_colour(hexcode: str) -> str | None:
    """The nearest canonical hue, or None for greys, dark shades and hues between two colours."""
    red, green, blue = (int(hexcode[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, saturation, value = colorsys.rgb_to_hsv(red, green, blue)
    if saturation < 0.45 or value < 0.35:
        return None
    ranked = sorted(CLASSES, key=lambda name: hue_distance(hue * 360, CENTRES[name]))
    near, second = (hue_distance(hue * 360, CENTRES[name]) for name in ranked[:2])
    return ranked[0] if second - near >= 0.3 * (near + second) else None


def lexicon() -> dict[str, str]:
    names = json.loads((HERE / "colour_names.json").read_text())["colours"]
    words: dict[str, str] = {}
    for name, hexcode in names.items():
        colour = canonical_colour(hexcode)
        if colour and not any(stem in name.replace(" ", "") for stem in HELDOUT_STEMS):
            words[name] = colour
    for colour, entry in COLOUR_WORDS.items():
        words.update(dict.fromkeys(entry.train, colour))
    return words


def knn(similarity: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    top = similarity.topk(k, dim=1)
    votes = torch.zeros(similarity.shape[0], len(CLASSES))
    return votes.scatter_add_(1, labels[top.indices], top.values).argmax(1)


def linear(train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)
    torch.manual_seed(0)
    probe = torch.nn.Linear(train.shape[1], len(CLASSES))
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(400):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe((train - mean) / std), labels)
        (loss + 1e-2 * probe.weight.square().sum()).backward()
        optimizer.step()
    with torch.no_grad():
        return probe((test - mean) / std).argmax(1)


def main() -> None:
    torch.set_num_threads(1)
    encoder = MiniLMEncoder()
    words = lexicon()
    heldout = {word: colour for colour, entry in COLOUR_WORDS.items() for word in entry.heldout}
    truth = torch.tensor([CLASSES.index(colour) for colour in heldout.values()])
    labels = torch.tensor([CLASSES.index(colour) for colour in words.values()])
    result: dict[str, object] = {
        "training_names": len(words),
        "per_colour": {name: list(words.values()).count(name) for name in CLASSES},
        "heldout_words": len(heldout),
    }
    for template in TEMPLATES:

        def embed(names: list[str], template: str = template) -> torch.Tensor:
            texts = [template.format(name) for name in names]
            return torch.nn.functional.normalize(encoder.encode(texts), dim=-1)

        train, test = embed(list(words)), embed(list(heldout))
        readers = {f"knn{k}": knn(test @ train.T, labels, k) for k in (1, 5, 15)}
        readers["linear"] = linear(train, labels, test)
        for reader, predicted in readers.items():
            result[f"{template!r} {reader}"] = {
                "correct": int((predicted == truth).sum()),
                "readings": {w: CLASSES[int(p)] for w, p in zip(heldout, predicted, strict=True)},
            }
    (HERE / "minilm_lexicon.json").write_text(json.dumps(result, indent=1) + "\n")
    for key, value in result.items():
        if isinstance(value, dict) and "correct" in value:
            print(f"{key}: {value['correct']} / {len(heldout)}")


if __name__ == "__main__":
    main()
