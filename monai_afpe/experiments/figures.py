"""Writing the experiment reports' figures: one layout, resolution and clean-up for every plot."""

from __future__ import annotations

from pathlib import Path

__all__ = ["save_figure"]


def save_figure(fig, path: Path | str) -> Path:
    """Lay out ``fig``, write it to ``path`` (PNG at 110 dpi), close it and return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
