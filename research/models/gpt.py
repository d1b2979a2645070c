"""A GPT-style decoder (Radford et al., 2019; the layout of nanoGPT): learned positions,
pre-norm blocks of causal self-attention and an MLP, a final LayerNorm, and an output head
that shares the token embedding's weights. Sizes from a few hundred thousand parameters to
GPT-2 small's 124M are config values (conf/model/gpt*.yaml)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from research.data.spec import DataSpec
from research.models.base import Model


class CausalSelfAttention(nn.Module):
    """Multi-head attention where each position sees itself and the positions before it;
    `scaled_dot_product_attention` picks a fused (flash) kernel where the device has one."""

    def __init__(self, d_model: int, num_heads: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        heads = self.qkv(x).view(batch, length, 3, self.num_heads, width // self.num_heads)
        q, k, v = heads.permute(2, 0, 3, 1, 4)  # each (batch, heads, length, head width)
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    """x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(
        self, d_model: int, num_heads: int, ff_mult: int, dropout: float, bias: bool
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model, bias=bias)
        self.attention = CausalSelfAttention(d_model, num_heads, dropout, bias)
        self.norm2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, ff_mult * d_model, bias=bias),
            nn.GELU(),
            nn.Linear(ff_mult * d_model, d_model, bias=bias),
            nn.Dropout(dropout),
        )
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.residual_dropout(self.attention(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


class GPT(Model):
    """Predicts every next token of a window of `spec.shape[0]` tokens (the context length)."""

    accepts = ("tokens",)
    language_modeling = True
    classification = False

    def __init__(
        self,
        spec: DataSpec,
        d_model: int = 384,
        num_heads: int = 6,
        num_layers: int = 6,
        ff_mult: int = 4,
        dropout: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__(spec)
        if d_model % num_heads:
            raise ValueError(
                f"model.d_model={d_model} must be a multiple of model.num_heads={num_heads}"
            )
        assert spec.vocab_size is not None
        self.embed = nn.Embedding(spec.vocab_size, d_model)
        self.position = nn.Embedding(spec.shape[0], d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(
            *(Block(d_model, num_heads, ff_mult, dropout, bias) for _ in range(num_layers))
        )
        self.norm = nn.LayerNorm(d_model, bias=bias)
        self.head = nn.Linear(d_model, spec.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: one matrix reads and writes tokens
        self._init_weights(num_layers)

    def _init_weights(self, num_layers: int) -> None:
        """GPT-2's initialisation: N(0, 0.02) everywhere, the projections that write into the
        residual stream scaled by 1/sqrt(2 * layers) so its variance stays put with depth."""
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for layer in (block.attention.proj, block.mlp[2]):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = self.position.weight[: x.shape[1]]
        h = self.dropout(self.embed(x) + positions)
        return self.head(self.norm(self.blocks(h)))
