"""Every model on every input kind it accepts; clear errors for the ones it does not."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
from omegaconf import DictConfig

from research.data.spec import DataSpec
from research.models.airbench import AirbenchNet
from research.models.base import IncompatibleDataError
from research.models.cnn import CNN
from research.models.gpt import GPT
from research.models.mlp import MLP, LogisticRegression
from research.models.resnet import ResNet
from research.models.rnn import RNN
from research.models.transformer import Transformer
from research.training.pipeline import build_model

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
    "resnet": lambda spec: ResNet(spec, widths=(4, 8), blocks=(1, 1)),
    "airbench": lambda spec: AirbenchNet(spec, widths=(4, 8, 8), patch_width=6),
    "gpt": lambda spec: GPT(spec, d_model=16, num_heads=2, num_layers=2),
}
COMPATIBLE = {
    "logreg": [SIGNAL, IMAGE, TOKENS],
    "mlp": [SIGNAL, IMAGE, TOKENS],
    "cnn": [SIGNAL, IMAGE],
    "lstm": [SIGNAL, IMAGE, TOKENS, TEXT],
    "gru": [SIGNAL, IMAGE, TOKENS, TEXT],
    "transformer": [SIGNAL, IMAGE, TOKENS, TEXT],
    "resnet": [IMAGE],
    "airbench": [IMAGE],
    "gpt": [TEXT],
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


@pytest.mark.parametrize("builder", [BUILDERS["transformer"], BUILDERS["gpt"]])
def test_language_models_are_causal(builder) -> None:
    model = builder(TEXT).eval()
    x = sample(TEXT, batch=1)
    changed = x.clone()
    changed[0, -1] = (x[0, -1] + 1) % 30
    assert torch.allclose(model(x)[0, :-1], model(changed)[0, :-1], atol=1e-6)
    assert not torch.allclose(model(x)[0, -1], model(changed)[0, -1], atol=1e-6)


def test_gpt_ties_its_head_to_the_token_embedding() -> None:
    model = GPT(TEXT, d_model=16, num_heads=2, num_layers=1)
    assert model.head.weight is model.embed.weight
    logits = model(sample(TEXT))
    logits[..., 3].sum().backward()  # a gradient through the head alone reaches the table
    assert model.embed.weight.grad[3].abs().sum() > 0


def test_airbench_refuses_images_too_small_for_its_pooling() -> None:
    digits = DataSpec("digits", "image", (1, 8, 8), 10)
    with pytest.raises(IncompatibleDataError, match="8x8 images from data 'digits'") as error:
        AirbenchNet(digits)
    assert "at least 9x9" in str(error.value) and "\n" not in str(error.value)
    mnist = DataSpec("mnist", "image", (1, 28, 28), 10)
    assert AirbenchNet(mnist, widths=(4, 8, 8))(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_gpt_refuses_classification_and_names_the_alternative() -> None:
    with pytest.raises(IncompatibleDataError, match="only does language modelling") as error:
        GPT(TOKENS)
    assert "model=transformer" in str(error.value)


@pytest.mark.parametrize(
    ("config", "spec", "expected"),
    [
        # the sizes the configs ship, on the data they are meant for (printed in the README)
        ("resnet18", IMAGE, 11_173_962),
        ("airbench", IMAGE, 1_972_792),
        ("gpt_tiny", DataSpec("b", "tokens", (128,), 256, 256, "language_modeling"), 443_008),
        ("gpt", DataSpec("c", "tokens", (256,), 65, 65, "language_modeling"), 10_745_088),
        pytest.param(
            "gpt2_small",
            DataSpec("owt", "tokens", (1024,), 50257, 50257, "language_modeling"),
            124_439_808,
            marks=pytest.mark.slow,
        ),
    ],
)
def test_shipped_sizes_have_their_published_parameter_counts(
    make_cfg: Callable[..., DictConfig], config: str, spec: DataSpec, expected: int
) -> None:
    """ResNet-18 on CIFAR-10 has 11,173,962 parameters; nanoGPT's baby GPT 10.65M and GPT-2
    small 123.65M without their position tables (98,304 and 786,432)."""
    model = build_model(make_cfg(f"model={config}").model, SimpleNamespace(spec=spec))
    assert sum(p.numel() for p in model.parameters()) == expected


def test_channels_last_changes_the_layout_not_the_function() -> None:
    torch.manual_seed(0)
    nchw = ResNet(IMAGE, widths=(4, 8), blocks=(1, 1))
    torch.manual_seed(0)
    nhwc = ResNet(IMAGE, widths=(4, 8), blocks=(1, 1), channels_last=True)
    assert nhwc.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not nchw.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = sample(IMAGE)
    assert torch.allclose(nchw(x), nhwc(x), atol=1e-5)
