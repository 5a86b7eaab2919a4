"""nc-jax: check neural-collapse theory against measurement, in JAX."""

__version__ = "0.1.0"
# how the tool is cited (CITATION.cff at the repository's root says the same; tested)
CITATION_TITLE = "nc-jax: a JAX toolkit that checks neural-collapse theory against measurement"
CITATION_AUTHORS = "The nc-jax developers"
