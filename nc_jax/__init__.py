"""nc-jax: check neural-collapse theory against measurement, in JAX."""

__version__ = "0.1.0"
