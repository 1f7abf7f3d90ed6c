"""The scene generator: FiLM folds exactly, the folded field is a plain SceneField, shells
share the template and carry gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from t2v.errors import ConfigError
from t2v.field import PlaneSpec, SceneField
from t2v.generator import SceneGenerator, with_tensors


def tiny_field() -> SceneField:
    torch.manual_seed(0)
    planes = PlaneSpec(features=2, resolutions=(8,), time_resolution=4)
    return SceneField(planes, planes, backend="torch", hidden_dim=8, trajectory_knots=4)


def trained_generator() -> SceneGenerator:
    generator = SceneGenerator(tiny_field(), ["", "none", "noir"], text_dim=12, hidden_dim=16)
    with torch.no_grad():  # a generator whose conditioning does something
        generator.out.weight.normal_(0, 0.3)
        generator.out.bias.normal_(0, 0.3)
    return generator


def film_by_hooks(generator: SceneGenerator, text: torch.Tensor, genre: int) -> SceneField:
    """The template with the FiLM applied to each layer's output by forward hooks: the
    modulated forward the fold must equal, computed without folding anything."""
    raw = generator.modulation(text[None], torch.tensor([genre]))[0].detach()
    at = 0
    for name, width in zip(generator.layers, generator.film_widths, strict=True):
        gain, shift = 1 + raw[at : at + width], raw[at + width : at + 2 * width]
        at += 2 * width
        layer = generator.template.get_submodule(name)
        layer.register_forward_hook(lambda _m, _i, out, g=gain, s=shift: g * out + s)
    knots = raw[at : at + 12].view(4, 3)
    with torch.no_grad():
        generator.template.trajectory.offsets.copy_(generator.max_offset * torch.tanh(knots))
    return generator.template


def test_the_folded_field_equals_the_film_modulated_forward() -> None:
    generator = trained_generator()
    text = torch.randn(12)
    folded = generator.field_for(text, "noir")
    assert type(folded) is SceneField
    points, times = torch.rand(500, 3) * 2 - 1, torch.rand(500, 1)
    directions = nn.functional.normalize(torch.randn(500, 3), dim=1)
    with torch.no_grad():
        mine = folded(points, times, directions)
        background = folded.background(directions)
        hooked = film_by_hooks(generator, text, 2)
        theirs = hooked(points, times, directions)
        their_background = hooked.background(directions)
    assert torch.allclose(mine.density, theirs.density, atol=1e-5, rtol=1e-5)
    assert torch.allclose(mine.rgb, theirs.rgb, atol=1e-6)
    assert torch.allclose(background, their_background, atol=1e-6)
    # and the conditioning matters: another genre gives another colour
    other = generator.field_for(text, "none")(points, times, directions).rgb.detach()
    assert (other - mine.rgb).abs().max() > 1e-2


def test_a_folded_field_loads_into_a_plain_field_of_the_same_configuration() -> None:
    generator = trained_generator()
    folded = generator.field_for(torch.randn(12), "none")
    plain = tiny_field()
    plain.load_state_dict(folded.state_dict())
    points = torch.rand(10, 3)
    assert torch.equal(
        plain.density(points, torch.rand(10, 1) * 0), folded.density(points, 0 * torch.rand(10, 1))
    )


def test_training_shells_share_the_template_and_carry_gradients() -> None:
    generator = trained_generator()
    before = {k: v.clone() for k, v in generator.template.state_dict().items()}
    fields = generator.fields(torch.randn(2, 12), torch.tensor([1, 2]))
    assert all(isinstance(field, SceneField) for field in fields)
    points, times = torch.rand(64, 3) * 2 - 1, torch.rand(64, 1)
    loss = sum(field(points, times, points).rgb.sum() for field in fields)
    loss.backward()
    assert generator.out.weight.grad is not None and generator.out.weight.grad.abs().sum() > 0
    planes = generator.template.static_encoding.space_planes[0]
    assert planes.grad is not None and planes.grad.abs().sum() > 0
    # the template itself is untouched: its parameters are still parameters, same values
    assert isinstance(generator.template.color_head[0].weight, nn.Parameter)
    after = generator.template.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_with_tensors_refuses_unknown_names() -> None:
    field = tiny_field()
    try:
        with_tensors(field, {"color_head.9.weight": torch.zeros(1)})
    except KeyError as error:
        assert "9" in str(error)
    else:
        raise AssertionError("an unknown submodule was accepted")


def test_an_unknown_genre_is_refused_in_one_line() -> None:
    generator = trained_generator()
    try:
        generator.field_for(torch.randn(12), "western")
    except ConfigError as error:
        assert "western" in str(error) and "\n" not in str(error)
    else:
        raise AssertionError("an unknown genre was accepted")


def motion_generator() -> SceneGenerator:
    """A generator with a 2-query motion head over 3 motions, its paths and reads random."""
    generator = SceneGenerator(
        tiny_field(), ["none", "noir"], text_dim=12, hidden_dim=16, motion_heads=2, motion_classes=3
    )
    with torch.no_grad():
        generator.motion.mlp[-1].weight.normal_(0, 1.0)
        generator.motion_paths.normal_(0, 1.0)
    return generator


def test_the_motion_head_moves_along_the_path_of_the_motion_it_names() -> None:
    generator = motion_generator()
    assert generator.reads_tokens
    tokens = torch.randn(5, 7, 12)
    tokens[:, 5:] = 0  # padding rows
    with torch.no_grad():
        logits = generator.motion_logits(tokens, torch.tensor([0, 1, 0, 1, 0]))
    for row, named in enumerate(logits.argmax(dim=1).tolist()):
        field = generator.field_for(tokens[row], "none" if row % 2 == 0 else "noir")
        expected = generator.max_offset * torch.tanh(generator.motion_paths[named]).view(4, 3)
        assert torch.allclose(field.trajectory.offsets, expected, atol=1e-6)
    # in training the paths mix by the softmax, and gradients reach the head and the paths
    (field,) = generator.fields(tokens[:1], torch.tensor([0]))
    field.trajectory(torch.rand(6, 1)).sum().backward()
    assert generator.motion_paths.grad.abs().sum() > 0
    assert generator.motion.mlp[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="token states"):
        generator.field_for(torch.randn(12), "none")  # a sentence vector is not what it reads


def test_a_generator_without_a_motion_head_hands_on_all_but_its_trajectory_rows() -> None:
    from t2v.generator.model import adopted_state

    source = trained_generator()
    target = SceneGenerator(
        tiny_field(),
        ["", "none", "noir"],
        text_dim=12,
        hidden_dim=16,
        motion_heads=2,
        motion_classes=3,
    )
    target.load_state_dict(adopted_state(source, target))
    tokens = torch.randn(4, 12)
    with torch.no_grad():
        film_rows = 2 * sum(source.film_widths)
        # the target reads the sentence vector of the tokens: give the source the same one
        sentence = target.sentences(tokens[None])
        theirs = source.modulation(sentence, torch.tensor([1]))
        mine = target.modulation(tokens[None], torch.tensor([1]))
    assert torch.allclose(mine, theirs[:, :film_rows], atol=1e-6)
    assert target.motion_paths.abs().sum() == 0  # the motion head starts fresh
