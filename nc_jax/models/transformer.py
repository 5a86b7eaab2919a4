"""A small pre-LayerNorm transformer classifier followed by a deep linear MLP head.

The flattened input row x (seq_len * token_dim,) is read as ``seq_len`` tokens of ``token_dim``
values (an 8x8 digits image: 8 tokens of 8 pixels, one per row), embedded linearly to
``model_dim`` with a learned positional embedding, and passed through ``depth`` pre-LN blocks
(Xiong et al. 2020; the LayerNorm transformer of the theory notes, docs/theory/sukenik2025.md):

    X <- X + MHA(LN(X)),    X <- X + MLP(LN(X)),    MLP = Dense -> GELU -> Dense,

then an optional final LN, pooling over tokens (mean, or the first token) and the ``MLP`` head
(nc_jax.models.mlp) whose last ``num_linear`` layers are linear and bias-free. By default the
norms have no affine parameters: LN(x) = (x - mean(x)) / std(x) on every token, the form the
theory uses, whose output lies on the sphere of radius sqrt(model_dim) in the mean-zero subspace.

Gates (``gated=True``; the depth sweep of Sukenik, Lampert, Mondelli 2025, docs/theory/
sukenik2025.md, "Training all depths in one program"): every block's two branches are multiplied
by a gate g_b, X <- X + g_b MHA(LN(X)), X <- X + g_b MLP(LN(X)), stored as the parameter
``params["backbone"]["params"]["gates"]`` (depth,), 1 after ``init`` and never trained
(``stop_gradient``, decay multiplier 0 in ``decay_scales``). ``with_active_blocks(params, k)``
zeroes the gates and every parameter of blocks k+1..depth: those blocks are then exactly the
identity, get zero gradients and zero weight decay, so the network, its regulariser and its
GD/Adam trajectory are those of the depth-k network ``sliced_blocks(params, k)``
(tests/test_models_transformer.py), and networks of several depths train as runs of ONE
compiled program, as ``nc_jax.models.ln_resnet`` does.
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
    pooled, then (with final_norm) the pooled final-LN output. With ``gated`` every block's
    branches are multiplied by its (untrained) gate (module docstring, "Gates").
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
    gated: bool = False
    branch_init_scale: float = 1.0

    def _branch_init(self) -> nn.initializers.Initializer:
        """LeCun normal (flax's default for Dense and attention kernels) times
        ``branch_init_scale``."""
        lecun = nn.initializers.lecun_normal()
        return lambda key, shape, dtype: self.branch_init_scale * lecun(key, shape, dtype)

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
        gates = (
            jax.lax.stop_gradient(
                self.param("gates", nn.initializers.ones, (self.depth,), self.param_dtype)
            )
            if self.gated
            else None
        )
        pooled = []
        for block in range(self.depth):
            gate = 1.0 if gates is None else gates[block]
            attention = nn.MultiHeadDotProductAttention(
                num_heads=self.num_heads,
                qkv_features=self.model_dim,
                out_features=self.model_dim,
                param_dtype=self.param_dtype,
                kernel_init=self._branch_init(),
                out_kernel_init=self._branch_init(),
                name=f"attention_{block}",
            )
            h = h + gate * attention(self._norm()(h), deterministic=True)
            u = nn.Dense(
                self.mlp_ratio * self.model_dim,
                param_dtype=self.param_dtype,
                kernel_init=self._branch_init(),
                name=f"fc1_{block}",
            )(self._norm()(h))
            u = nn.Dense(
                self.model_dim,
                param_dtype=self.param_dtype,
                kernel_init=self._branch_init(),
                name=f"fc2_{block}",
            )(nn.gelu(u))
            h = h + gate * u
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
        gated: multiply every block's branches by an untrained gate (module docstring,
            "Gates"; with_active_blocks, sliced_blocks).
        head_bias_decay: the weight-decay multiplier of the head's last bias, if it has one
            (``decay_scales``; 0: an unregularised head bias, as in sukenik2025's setting).
        branch_init_scale: s, multiplies the LeCun-normal initialisation of every block's
            kernels (attention q, k, v, output; the MLP's two layers): s < 1 starts a deep
            regularised network with a small penalty.

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
    gated: bool = False
    head_bias_decay: float = 1.0
    branch_init_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("seq_len", "token_dim", "model_dim", "depth", "num_heads", "mlp_ratio"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("head_bias_decay", "branch_init_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
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

    @property
    def radius(self) -> float:
        """sqrt(model_dim): a bound on the norm of every LN output without affine parameters
        (flax's epsilon 1e-6 keeps it strictly inside), hence on the pooled final-LN features."""
        return float(self.model_dim) ** 0.5

    def _block_weights(self) -> int:
        """Weight entries of one block: the q, k, v and output projections, the MLP's two."""
        return (4 + 2 * self.mlp_ratio) * self.model_dim**2

    def num_weights(self, input_dim: int) -> int:
        """Entries of the embedding, block and head weight matrices (biases, positions and LN
        parameters left out); ``input_dim`` must be seq_len * token_dim."""
        self._check_input_dim(input_dim, "input_dim")
        embedding = self.token_dim * self.model_dim
        return (
            embedding + self.depth * self._block_weights() + self.head.num_weights(self.model_dim)
        )

    def multiply_adds_per_sample(self, input_dim: int) -> int:
        """Multiply-adds of one sample's forward pass: every token through the embedding and
        the blocks' dense layers, the attention scores and their weighted sums (2 T d per token
        and block), and the head; norms, softmax and biases left out."""
        self._check_input_dim(input_dim, "input_dim")
        per_token = self.token_dim * self.model_dim + self.depth * (
            self._block_weights() + 2 * self.seq_len * self.model_dim
        )
        return self.seq_len * per_token + self.head.multiply_adds_per_sample(self.model_dim)

    def activations_per_sample(self) -> int:
        """Values one sample's forward pass keeps for the backward pass (an estimate): per
        token the embedding and, per block, two LN outputs, q, k, v, the attention output, the
        MLP's hidden layer before and after GELU and two residual sums; per block and head the
        attention weights (T^2); then the final LN and the head's layers."""
        d, t = self.model_dim, self.seq_len
        per_block = t * (9 * d + 2 * self.mlp_ratio * d) + self.num_heads * t * t
        return t * d * 2 + self.depth * per_block + self.head.activations_per_sample()

    def decay_scales(self, params: Params) -> Params:
        """Weight-decay multipliers per leaf (read by the engine): 1, except
        ``head_bias_decay`` on the head's last bias (where it has one) and 0 on the untrained
        gates (``gated``)."""
        scales = jax.tree_util.tree_map(lambda _: 1.0, params)
        if "b" in scales["head"][-1]:
            scales["head"][-1]["b"] = self.head_bias_decay
        if self.gated:
            scales["backbone"]["params"]["gates"] = 0.0
        return scales

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
            gated=self.gated,
            branch_init_scale=self.branch_init_scale,
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


def _block_names(block: int) -> tuple[str, ...]:
    """The backbone parameter groups of block ``block`` (0-based): its attention, its MLP and,
    with ``affine``, its two LayerNorms (flax numbers them 2 block and 2 block + 1; the final LN
    of a depth-L backbone is LayerNorm_<2 L>)."""
    return (
        f"attention_{block}",
        f"fc1_{block}",
        f"fc2_{block}",
        f"LayerNorm_{2 * block}",
        f"LayerNorm_{2 * block + 1}",
    )


def with_active_blocks(params: Params, active: int | jax.Array) -> Params:
    """``params`` of a gated Transformer with only the first ``active`` blocks kept: the gates
    and every parameter of the later blocks set to 0 (module docstring, "Gates"). ``active``
    may be a traced integer (vmap over runs of different depths)."""
    inner = params["backbone"]["params"]
    keep = jnp.arange(inner["gates"].shape[0]) < active
    masked = {**inner, "gates": jnp.where(keep, inner["gates"], 0.0)}
    for block in range(inner["gates"].shape[0]):
        for name in _block_names(block):
            if name in inner:
                masked[name] = jax.tree_util.tree_map(
                    lambda leaf, on=keep[block]: jnp.where(on, leaf, 0.0), inner[name]
                )
    return {**params, "backbone": {**params["backbone"], "params": masked}}


def sliced_blocks(params: Params, depth: int) -> Params:
    """The parameters of the gated depth-``depth`` Transformer made of the first ``depth``
    blocks of ``params`` (the embedding, the final LN and the head kept)."""
    inner = params["backbone"]["params"]
    total = inner["gates"].shape[0]
    dropped = {name for block in range(depth, total) for name in _block_names(block)}
    kept = {name: value for name, value in inner.items() if name not in dropped}
    kept["gates"] = inner["gates"][:depth]
    final = f"LayerNorm_{2 * total}"
    if final in inner:  # affine: the final LN is numbered after the blocks' norms
        kept[f"LayerNorm_{2 * depth}"] = kept.pop(final)
    return {**params, "backbone": {**params["backbone"], "params": kept}}
