"""Every model on every input kind it accepts; clear errors for the ones it does not."""

from __future__ import annotations

import pytest
import torch

from research.data.spec import DataSpec
from research.models.base import IncompatibleDataError
from research.models.cnn import CNN
from research.models.mlp import MLP, LogisticRegression
from research.models.rnn import RNN
from research.models.transformer import Transformer

SIGNAL = DataSpec("mnist1d", "signal", (1, 40), 10)
IMAGE = DataSpec("cifar10", "image", (3, 32, 32), 10)
TOKENS = DataSpec("modular_arithmetic", "tokens", (4,), 97, vocab_size=99)
TEXT = DataSpec("text", "tokens", (16,), 30, vocab_size=30, task="language_modeling")

BUILDERS = {
    "logreg": LogisticRegression,
    "mlp": lambda spec: MLP(spec, width=16),
    "cnn": lambda spec: CNN(spec, channels=(8, 8)),
    "lstm": lambda spec: RNN(spec, cell="lstm", hidden_size=16, embed_size=8),
    "gru": lambda spec: RNN(spec, cell="gru", hidden_size=16, embed_size=8),
    "transformer": lambda spec: Transformer(spec, d_model=16, num_heads=2, num_layers=1),
}
COMPATIBLE = {
    "logreg": [SIGNAL, IMAGE, TOKENS],
    "mlp": [SIGNAL, IMAGE, TOKENS],
    "cnn": [SIGNAL, IMAGE],
    "lstm": [SIGNAL, IMAGE, TOKENS, TEXT],
    "gru": [SIGNAL, IMAGE, TOKENS, TEXT],
    "transformer": [SIGNAL, IMAGE, TOKENS, TEXT],
}


def sample(spec: DataSpec, batch: int = 3) -> torch.Tensor:
    if spec.kind == "tokens":
        assert spec.vocab_size is not None
        return torch.randint(0, spec.vocab_size, (batch, *spec.shape))
    return torch.randn(batch, *spec.shape)


@pytest.mark.parametrize(
    ("name", "spec"), [(n, s) for n, specs in COMPATIBLE.items() for s in specs]
)
def test_model_output_shape_and_gradients(name: str, spec: DataSpec) -> None:
    model = BUILDERS[name](spec)
    logits = model(sample(spec))
    lm = spec.task == "language_modeling"
    assert logits.shape == ((3, spec.shape[0], spec.num_classes) if lm else (3, spec.num_classes))
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("name", "spec"),
    [(n, s) for n in BUILDERS for s in (SIGNAL, IMAGE, TOKENS, TEXT) if s not in COMPATIBLE[n]],
)
def test_incompatible_pairs_fail_with_a_clear_message(name: str, spec: DataSpec) -> None:
    with pytest.raises(IncompatibleDataError, match=spec.name) as error:
        BUILDERS[name](spec)
    assert "\n" not in str(error.value)


def test_transformer_language_model_is_causal() -> None:
    model = Transformer(TEXT, d_model=16, num_heads=2, num_layers=1).eval()
    x = sample(TEXT, batch=1)
    changed = x.clone()
    changed[0, -1] = (x[0, -1] + 1) % 30
    assert torch.allclose(model(x)[0, :-1], model(changed)[0, :-1], atol=1e-6)
