"""Does any layer of the frozen MiniLM place unseen colour words near their hue?

Each held-out colour word, alone and inside a caption ("a {word} ball moves to the left"), is
read at every hidden layer (0: the input embeddings, 6: the last), averaging its word pieces;
its nearest training colour word by cosine at the same layer names its colour. Writes
minilm_layers.json next to this file (under a minute on one CPU thread).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.nn import functional as F

from t2v.data.vocabulary import COLOUR_WORDS
from t2v.text.minilm import MiniLMEncoder

HERE = Path(__file__).parent
CONTEXTS = ("{}", "a {} ball moves to the left")


@torch.no_grad()
def word_states(encoder: MiniLMEncoder, words: list[str], context: str) -> torch.Tensor:
    """`(len(words), layers, 384)`: each word's mean word-piece state at every layer."""
    texts = [context.format(word) for word in words]
    tokens = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    hidden = torch.stack(encoder.model(**tokens, output_hidden_states=True).hidden_states, dim=1)
    rows = []
    for row, word in enumerate(words):
        pieces = encoder.tokenizer(word, add_special_tokens=False)["input_ids"]
        ids = tokens["input_ids"][row].tolist()
        start = next(i for i in range(len(ids)) if ids[i : i + len(pieces)] == pieces)
        rows.append(hidden[row, :, start : start + len(pieces)].mean(dim=1))
    return F.normalize(torch.stack(rows), dim=-1)


def main() -> None:
    torch.set_num_threads(1)
    encoder = MiniLMEncoder()
    colours = list(COLOUR_WORDS)
    heldout = [(word, colour) for colour in colours for word in COLOUR_WORDS[colour].heldout]
    result: dict[str, dict[str, int]] = {}
    for context in CONTEXTS:
        train = {c: word_states(encoder, list(COLOUR_WORDS[c].train), context) for c in colours}
        test = word_states(encoder, [word for word, _ in heldout], context)
        correct = {}
        for layer in range(test.shape[1]):
            best = torch.stack(
                [(train[c][:, layer] @ test[:, layer].T).max(dim=0).values for c in colours]
            ).argmax(dim=0)
            correct[str(layer)] = sum(
                colours[int(b)] == colour for b, (_, colour) in zip(best, heldout, strict=True)
            )
        result[context] = correct
    report = {"heldout_words": len(heldout), "correct_by_layer": result}
    (HERE / "minilm_layers.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
