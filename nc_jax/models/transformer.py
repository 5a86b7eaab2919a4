"""A small pre-LayerNorm transformer classifier followed by a deep linear MLP head.

The flattened input row x (seq_len * token_dim,) is read as ``seq_len`` tokens of ``token_dim``
values (an 8x8 digits image: 8 tokens of 8 pixels, one per row), embedded linearly to
``model_dim`` with a learned positional embedding, and passed through ``depth`` pre-LN blocks
(Xiong et al. 2020; the LayerNorm transformer of the theory notes, other_papers.md section A2):

    X <- X + MHA(LN(X)),    X <- X + MLP(LN(X)),    MLP = Dense -> GELU -> Dense,

then an optional final LN, pooling over tokens (mean, or the first token) and the ``MLP`` head
(nc_jax.models.mlp) whose last ``num_linear`` layers are linear and bias-free. By default the
norms have no affine parameters: LN(x) = (x - mean(x)) / std(x) on every token, the form the
theory uses, whose output lies on the sphere of radius sqrt(model_dim) in the mean-zero subspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from nc_jax.models.base import BackboneWithHead, Layers, Params, default_float_dtype
from nc_jax.models.mlp import MLP
from nc_jax.models.resnet import DEFAULT_HEAD

POOLS: tuple[str, ...] = ("mean", "first")


def pool_tokens(x: jax.Array, pool: str) -> jax.Array:
    """Pool tokens (N, T, d) -> (N, d): their mean ("mean") or the first token ("first")."""
    if pool == "mean":
        return jnp.mean(x, axis=-2)
    if pool == "first":
        return x[..., 0, :]
    raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")


class TransformerBackbone(nn.Module):
    """Embedding, ``depth`` pre-LN blocks and the optional final LN on tokens (N, T, token_dim).

    Returns the list of recorded pooled features, each (N, model_dim): every block's output
    pooled, then (with final_norm) the pooled final-LN output.
    """

    seq_len: int
    model_dim: int
    depth: int
    num_heads: int
    mlp_ratio: int
    final_norm: bool
    pool: str
    affine: bool
    param_dtype: Any

    def _norm(self) -> nn.LayerNorm:
        return nn.LayerNorm(
            use_bias=self.affine,
            use_scale=self.affine,
            use_fast_variance=False,
            param_dtype=self.param_dtype,
        )

    @nn.compact
    def __call__(self, tokens: jax.Array) -> list[jax.Array]:
        h = nn.Dense(self.model_dim, param_dtype=self.param_dtype, name="embed")(tokens)
        position = self.param(
            "position",
            nn.initializers.normal(stddev=0.02),
            (self.seq_len, self.model_dim),
            self.param_dtype,
        )
        h = h + position
        pooled = []
        for block in range(self.depth):
            attention = nn.MultiHeadDotProductAttention(
                num_heads=self.num_heads,
                qkv_features=self.model_dim,
                out_features=self.model_dim,
                param_dtype=self.param_dtype,
                name=f"attention_{block}",
            )
            h = h + attention(self._norm()(h), deterministic=True)
            u = nn.Dense(
                self.mlp_ratio * self.model_dim, param_dtype=self.param_dtype, name=f"fc1_{block}"
            )(self._norm()(h))
            u = nn.Dense(self.model_dim, param_dtype=self.param_dtype, name=f"fc2_{block}")(
                nn.gelu(u)
            )
            h = h + u
            pooled.append(pool_tokens(h, self.pool))
        if self.final_norm:
            pooled.append(pool_tokens(self._norm()(h), self.pool))
        return pooled


@dataclass(frozen=True)
class Transformer(BackboneWithHead):
    """A pre-LN transformer encoder over the rows of x, then an MLP head with a deep linear part.

    Attributes:
        seq_len: T, the number of tokens of every input row.
        token_dim: values per token; inputs are rows of T * token_dim values.
        model_dim: d, the width of the residual stream (a multiple of num_heads).
        depth: number of transformer blocks.
        num_heads: attention heads.
        mlp_ratio: the block MLP's hidden width is mlp_ratio * model_dim.
        head: the MLP head; its input dim is model_dim. Its last num_linear layers are linear.
        final_norm: apply LN to the tokens after the last block (before pooling).
        pool: "mean" over tokens, or the "first" token.
        affine: learned scale and bias in every LN (False: LN(x) = (x - mean) / std).

    Layers of ``apply`` (ordered input to output, B = depth + final_norm, L = len(head.widths)):
        features[b] for b < depth: block b+1's output pooled over tokens, (N, model_dim).
        features[depth] (only with final_norm): the pooled final-LN output (N, model_dim).
            features[B-1] is always the head's input: the theory's Z_{L1} when the head has no
            non-linear layers. These B entries have preactivations, weights and biases None.
        features[B + l] for l < L: the head's layer l+1 (MLP.apply's record: post-activation
            outputs, pre-activations of its ReLU layers, dense weights W (n_l, n_{l-1}) and
            biases). The last num_linear entries are the linear head; the last is the output.
    """

    seq_len: int
    token_dim: int
    model_dim: int = 64
    depth: int = 2
    num_heads: int = 4
    mlp_ratio: int = 2
    head: MLP = DEFAULT_HEAD
    final_norm: bool = True
    pool: str = "mean"
    affine: bool = False

    def __post_init__(self) -> None:
        for name in ("seq_len", "token_dim", "model_dim", "depth", "num_heads", "mlp_ratio"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.model_dim % self.num_heads:
            raise ValueError(
                f"model_dim ({self.model_dim}) must be a multiple of num_heads "
                f"({self.num_heads}); change one of them"
            )
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {self.pool!r}")
        if not isinstance(self.head, MLP):
            raise ValueError(f"head must be an nc_jax.models.mlp.MLP, got {type(self.head)}")

    @property
    def input_dim(self) -> int:
        """seq_len * token_dim."""
        return self.seq_len * self.token_dim

    @property
    def num_backbone_layers(self) -> int:
        """Leading Layers entries that come from the transformer: depth + final_norm."""
        return self.depth + int(self.final_norm)

    def backbone(self) -> TransformerBackbone:
        """The flax module (parameters in the default float dtype)."""
        return TransformerBackbone(
            seq_len=self.seq_len,
            model_dim=self.model_dim,
            depth=self.depth,
            num_heads=self.num_heads,
            mlp_ratio=self.mlp_ratio,
            final_norm=self.final_norm,
            pool=self.pool,
            affine=self.affine,
            param_dtype=default_float_dtype(),
        )

    def _check_input_dim(self, input_dim: int, name: str) -> None:
        if input_dim != self.input_dim:
            raise ValueError(
                f"{name} must equal seq_len * token_dim = {self.seq_len} * {self.token_dim} = "
                f"{self.input_dim}, got {input_dim}: set seq_len and token_dim to split the rows"
            )

    def tokens(self, x: jax.Array) -> jax.Array:
        """Rows x (N, seq_len * token_dim) as tokens (N, seq_len, token_dim)."""
        if x.ndim != 2:
            raise ValueError(f"x must be (N, seq_len * token_dim) rows, got shape {x.shape}")
        self._check_input_dim(x.shape[1], "x.shape[1]")
        return x.reshape((x.shape[0], self.seq_len, self.token_dim))

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Parameters {"backbone": flax variables, "head": MLP parameters (list of dicts)}."""
        self._check_input_dim(input_dim, "input_dim")
        return self._init_with_head(key, (1, self.seq_len, self.token_dim), self.model_dim)

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Forward pass of x (N, seq_len * token_dim); returns the output (N, K) and the Layers
        record described in the class docstring."""
        pooled = tuple(self.backbone().apply(params["backbone"], self.tokens(x)))
        return self._apply_head(params, pooled, pooled)
