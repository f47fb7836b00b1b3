"""dcgan-workflow: a reproducible pipeline that reproduces DCGAN from raw images."""

__version__ = "0.1.0"
