"""How much colour and motion a frozen MiniLM vector carries into unseen words (a ceiling).

Any prior that reads the caption through MiniLM learns its text -> attribute map from the
training captions. This script measures how far that map can carry, with no diffusion model:

- word level: each held-out colour word, embedded alone, is given the canonical colour of
  the nearest training colour word (cosine similarity);
- caption level: a linear probe on the standardised sentence vector, trained on 3,000
  training captions, reads colour and motion from held-out captions (`heldout`: every word
  unseen; `heldout_phrasing`: templates, verbs and shape words unseen, colour names seen).

Writes minilm_ceiling.json next to this file. About 2 minutes on one CPU thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from t2v.data.procedural import ProceduralVideoText
from t2v.data.vocabulary import COLOUR_WORDS
from t2v.text.minilm import MiniLMEncoder

HERE = Path(__file__).parent


def captions(split: str, count: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    dataset = ProceduralVideoText(split=split, seed=seed)
    texts, colours, motions = [], [], []
    for index in range(count):
        spec, caption = dataset.spec(index)
        texts.append(caption)
        colours.append(spec.colour)
        motions.append(spec.motion)
    return texts, colours, motions


def word_level(encode) -> dict[str, object]:
    classes = list(COLOUR_WORDS)
    train = {name: encode(list(COLOUR_WORDS[name].train)) for name in classes}
    readings = {}
    for name in classes:
        for word in COLOUR_WORDS[name].heldout:
            vector = encode([word])[0]
            readings[word] = max(classes, key=lambda c: float((train[c] @ vector).max()))
    truth = {w: c for c in classes for w in COLOUR_WORDS[c].heldout}
    correct = sum(readings[w] == truth[w] for w in readings)
    return {"correct": correct, "words": len(readings), "readings": readings}


def linear_probe(train_x, train_y, test_x, test_y, classes: int, steps: int = 300) -> float:
    mean, std = train_x.mean(0), train_x.std(0).clamp(min=1e-6)
    probe = torch.nn.Linear(train_x.shape[1], classes)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = probe((train_x - mean) / std)
        loss = torch.nn.functional.cross_entropy(logits, train_y)
        (loss + 1e-3 * probe.weight.square().sum()).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = probe((test_x - mean) / std).argmax(1)
    return float((predicted == test_y).float().mean())


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    encode = MiniLMEncoder().encode
    train_text, train_colour, train_motion = captions("train", 3000, seed=1)
    train_x = encode(train_text)
    result: dict[str, object] = {"word_level_colour": word_level(encode)}
    for split in ("heldout", "heldout_phrasing"):
        text, colour, motion = captions(split, 400, seed=0)
        test_x = encode(text)
        for name, train_labels, test_labels in (
            ("colour", train_colour, colour),
            ("motion", train_motion, motion),
        ):
            classes = sorted(set(train_labels))
            accuracy = linear_probe(
                train_x,
                torch.tensor([classes.index(v) for v in train_labels]),
                test_x,
                torch.tensor([classes.index(v) for v in test_labels]),
                len(classes),
            )
            result[f"probe_{split}_{name}"] = round(accuracy, 3)
    (HERE / "minilm_ceiling.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "word_level_colour"}))
    words = result["word_level_colour"]
    print(f"word level: {words['correct']} / {words['words']}")


if __name__ == "__main__":
    main()
