"""Anisotropic Fourier feature positional encodings (AFPE, arXiv 2509.02488) for MONAI."""

__version__ = "0.1.0"
