"""Which part of a network a parameter is: the fact Muon's authors route parameters by.

Muon updates the weight matrices of hidden layers; embeddings, the first and the last layer,
biases and gains go to AdamW. A parameter's shape does not say which layer it belongs to, so
`parameter_roles(module)` reads it from the module tree:

- "vector": fewer than two dimensions (biases, LayerNorm gains, scalars);
- "embedding": an nn.Embedding's table, or a matrix owned by a module that is not a layer
  (the Transformer's learned positions);
- "input": the matrices of the first layer in registration order (the input projection of
  signals and images);
- "output": the matrices of the last layer (the classifier or language-model head);
- "hidden": every other matrix or filter of a layer (Linear, Conv, RNN, attention).

The project's models register their layers in the order data flows through them, which is
what makes "first" and "last" right; a model can instead define `parameter_roles()`
returning `(name, parameter, role)` triples.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

Role = Literal["input", "hidden", "output", "embedding", "vector"]
ROLES: tuple[Role, ...] = ("input", "hidden", "output", "embedding", "vector")

LAYERS = (
    nn.Linear,
    nn.Bilinear,
    nn.modules.conv._ConvNd,
    nn.RNNBase,
    nn.MultiheadAttention,
    nn.Embedding,
    nn.EmbeddingBag,
)
EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)


def parameter_roles(module: nn.Module) -> list[tuple[str, nn.Parameter, Role]]:
    """Every parameter of `module` once, in named_parameters() order, with its role."""
    custom = getattr(module, "parameter_roles", None)
    if callable(custom):
        return list(custom())
    owners: dict[int, nn.Module] = {}
    layers: list[nn.Module] = []
    for _, child in module.named_modules():
        own = list(child.parameters(recurse=False))
        for param in own:
            owners.setdefault(id(param), child)
        if isinstance(child, LAYERS) and any(p.dim() >= 2 for p in own):
            layers.append(child)
    first, last = (layers[0], layers[-1]) if layers else (None, None)
    roles: list[tuple[str, nn.Parameter, Role]] = []
    for name, param in module.named_parameters():
        owner = owners[id(param)]
        role: Role
        if param.dim() < 2:
            role = "vector"
        elif isinstance(owner, EMBEDDINGS):
            role = "embedding"
        elif owner is last:  # a single layer (logistic regression) is an output layer
            role = "output"
        elif owner is first:
            role = "input"
        elif not isinstance(owner, LAYERS):
            role = "embedding"
        else:
            role = "hidden"
        roles.append((name, param, role))
    return roles
