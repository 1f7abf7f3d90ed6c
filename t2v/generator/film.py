"""FiLM on linear layers, folded into their weights, and a module tree with some weights swapped.

A FiLM on a linear layer's pre-activation folds exactly into the layer:
`g * (W x + b) + s = (diag(g) W) x + (g * b + s)`. So a field whose MLPs are modulated by a
condition is a plain field with other weights, which every renderer, stage and export accepts.
`with_tensors` builds such a field for training without copying it: a shallow clone of the
module tree whose named parameters are replaced by (differentiable) tensors, everything else
shared with the original, which is left untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from torch import Tensor, nn


def fold_film(weight: Tensor, bias: Tensor, gain: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
    """Weight (O, I) and bias (O,) of `gain * (weight x + bias) + shift` (gain, shift (O,))."""
    return gain[:, None] * weight, gain * bias + shift


def with_tensors(module: nn.Module, tensors: Mapping[str, Tensor]) -> nn.Module:
    """A shallow clone of `module` whose parameters named in `tensors` (dotted names, as in
    `named_parameters`) read those tensors instead; `module` itself is unchanged, and all that
    is not named is shared with it (gradients reach both the tensors and the shared parts)."""
    clone = copy.copy(module)
    clone._parameters = dict(module._parameters)
    clone._modules = dict(module._modules)
    children: dict[str, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        head, _, rest = name.partition(".")
        if rest:
            children.setdefault(head, {})[rest] = value
            continue
        if head not in clone._parameters:
            raise KeyError(f"{type(module).__name__} has no parameter {head}")
        del clone._parameters[head]
        object.__setattr__(clone, head, value)
    for head, named in children.items():
        child = module._modules.get(head)
        if child is None:
            raise KeyError(f"{type(module).__name__} has no submodule {head}")
        clone._modules[head] = with_tensors(child, named)
    return clone
