"""Networks: positional-embedding blocks and AFPE Vision Transformers."""
