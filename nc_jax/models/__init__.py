"""Models written for one network: ``init(key, input_dim) -> params`` and
``apply(params, x) -> (output, Layers)`` (see models.base)."""

from nc_jax.models.base import Layers, Model
from nc_jax.models.feature_decay import FeatureDecay
from nc_jax.models.ln_resnet import LNResNet
from nc_jax.models.mlp import MLP
from nc_jax.models.resnet import ResNet, resnet20
from nc_jax.models.transformer import Transformer
from nc_jax.models.ufm import UFM, DeepUFM, dnc_loss, ufm_inputs, zhu_ufm_optimum

__all__ = [
    "MLP",
    "UFM",
    "DeepUFM",
    "FeatureDecay",
    "LNResNet",
    "Layers",
    "Model",
    "ResNet",
    "Transformer",
    "dnc_loss",
    "resnet20",
    "ufm_inputs",
    "zhu_ufm_optimum",
]
