"""The kernel view of Fourier positional encodings, and similarity maps, for the README figure (no training).

For Fourier features ``PE(p) = [sin 2πBp, cos 2πBp]`` with ``B = G diag(s)`` and ``G ~ N(0, 1)``,
``<PE(p), PE(q)> / (D/2) = mean_j cos(2π B_j (p - q))``, whose expectation over ``G`` is the Gaussian
kernel ``k(Δ) = exp(-2π² Σ_i s_i² Δ_i²)`` (arXiv 2509.02488; docs/design.md §1.4). One draw of ``G`` with
``D/2`` frequencies gives a noisy version of it: each frequency contributes ``cos(2π b·Δ)``, whose
variance is ``(1 + k(2Δ))/2 - k(Δ)²``, so the standard deviation of one draw is
``sqrt((1 + k(2Δ) - 2 k(Δ)²) / D)`` — 0 at ``Δ = 0``, about ``sqrt(1 / D)`` far away. The kernel's
half-similarity distance along axis ``i``, ``sqrt(ln 2 / (2π²)) / s_i`` position units, is the
correlation length an encoding imposes; multiplied by the axis's extent it is a length in mm.

Options: the ``similarity`` section of a ``similarity`` experiment
(:class:`~monai_afpe.experiments.config.SimilarityConfig`: keys, meanings and defaults).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from monai_afpe.experiments.config import SimilarityConfig

__all__ = ["HALF_SIMILARITY", "analytic_kernel", "empirical_kernel", "run_similarity"]

#: half-similarity distance times the scale: ``exp(-2π² s² Δ²) = 1/2`` at ``Δ = HALF_SIMILARITY / s``
HALF_SIMILARITY = math.sqrt(math.log(2.0) / (2.0 * math.pi**2))


def analytic_kernel(scales, displacement: torch.Tensor) -> torch.Tensor:
    """``exp(-2π² Σ_i s_i² Δ_i²)`` for displacements ``(..., m)`` in position units."""
    s = torch.as_tensor(scales, dtype=torch.float64)
    return torch.exp(-2.0 * math.pi**2 * ((s * displacement.double()) ** 2).sum(-1))


def empirical_kernel(
    scales, displacement: torch.Tensor, hidden_size: int, draws: int, first_seed: int = 0
) -> torch.Tensor:
    """Normalised dot products ``<PE(0), PE(Δ)> / (D/2)`` for ``draws`` seeded draws of ``G``: shape ``(draws, ...)``.

    Uses the project's :class:`~monai_afpe.networks.blocks.FourierPositionalEmbedding` (the frequencies a
    network with seed ``first_seed + k`` would use) and :func:`~monai_afpe.networks.blocks.fourier_features`.
    """
    from monai_afpe.networks.blocks import build_positional_embedding, fourier_features

    m = displacement.shape[-1]
    values = []
    for k in range(draws):
        embedding = build_positional_embedding("afpe", [2] * m, hidden_size, scales=list(scales), seed=first_seed + k)
        frequencies = embedding.frequencies.detach()
        origin = fourier_features(torch.zeros(1, m), frequencies)
        moved = fourier_features(displacement.reshape(-1, m).float(), frequencies)
        values.append((moved @ origin[0] / (hidden_size / 2)).reshape(displacement.shape[:-1]))
    return torch.stack(values)


def run_similarity(options: SimilarityConfig, output_dir: Path | str, name: str = "similarity") -> Path:
    """Write ``similarity_maps.png``, ``kernel.png`` and ``results.md`` (kernel fit and correlation lengths)."""
    import matplotlib.pyplot as plt

    from monai_afpe.visualize import similarity_map_figure

    grid = [int(n) for n in options.grid]
    spacing = [float(s) for s in options.spacing]
    patch = [int(p) for p in options.patch_size]
    hidden, draws, base = options.hidden_size, options.draws, options.base_scale
    encodings = list(options.encodings)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    m = len(grid)
    # similarity maps through the centre token, in mm
    figure, afpe, _ = similarity_map_figure(
        grid,
        spacing,
        patch,
        encodings,
        hidden,
        token=options.token,
        plane_axis=options.plane_axis,
        base_scale=base,
    )
    # grid positions run over [0, 1] per axis: one position unit is the distance between the outer token centres
    extent_mm = [(n - 1) * p * s for n, p, s in zip(grid, patch, spacing)]
    scales_of = {"ifpe": [base] * m, "afpe": afpe}
    figure.savefig(output_dir / "similarity_maps.png", dpi=110)
    plt.close(figure)

    # kernel view: empirical mean over draws vs the analytic kernel, per axis, against distance in mm
    fig, axes = plt.subplots(1, m, figsize=(3.6 * m, 3.3), squeeze=False, sharey=True)
    table = [
        "| encoding | axis | scale s | half-similarity distance (mm) | max abs(mean empirical − analytic) "
        "| sd of one draw at the half distance: measured | predicted |",
        "|---|---|---|---|---|---|---|",
    ]
    for axis in range(m):
        distances = torch.linspace(0.0, 1.0, 101)
        displacement = torch.zeros(101, m)
        displacement[:, axis] = distances
        ax = axes[0][axis]
        for kind, colour in (("ifpe", "tab:blue"), ("afpe", "tab:orange")):
            if kind not in encodings:
                continue
            scales = scales_of[kind]
            empirical = empirical_kernel(scales, displacement, hidden, draws)
            analytic = analytic_kernel(scales, displacement)
            mm = distances * extent_mm[axis]
            mean, sd = empirical.mean(0), empirical.std(0)
            ax.plot(mm, analytic, color=colour, label=f"{kind} analytic")
            ax.plot(mm, mean, color=colour, linestyle="--", label=f"{kind} mean of {draws} draws")
            ax.fill_between(mm, mean - sd, mean + sd, color=colour, alpha=0.15)
            half = HALF_SIMILARITY / scales[axis]
            index = min(int(round(half * 100)), 100)
            k, k2 = float(analytic[index]), float(analytic_kernel(scales, 2 * displacement[index]))
            table.append(
                f"| {kind} | {axis} | {scales[axis]:.3f} | {half * extent_mm[axis]:.1f} | "
                f"{float((mean.double() - analytic).abs().max()):.3f} | {float(sd[index]):.3f} "
                f"| {math.sqrt((1 + k2 - 2 * k * k) / hidden):.3f} |"
            )
        ax.set_xlabel(f"distance along axis {axis} (mm)")
        ax.set_title(f"axis {axis}: spacing {spacing[axis]} mm, {grid[axis]} tokens", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("<PE(p), PE(q)> / (D/2)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(output_dir / "kernel.png", dpi=110)
    plt.close(fig)

    lines = [
        f"# {name}: similarity maps and the kernel view",
        "",
        f"Token grid {grid}, spacing {spacing} mm, patch {patch} voxels, so the outer token centres lie "
        f"{', '.join(f'{e:.0f}' for e in extent_mm)} mm apart; D = {hidden}. IFPE uses one scale s = {base:g} on every "
        f"axis of the unit cube, i.e. a different correlation length in mm per axis; AFPE's physical policy "
        f"(s_i = s0 · extent_i / max extent) gives scales {', '.join(f'{s:.3f}' for s in afpe)}, one correlation length in mm.",
        "",
        "![similarity maps](similarity_maps.png)",
        "",
        "![kernel](kernel.png)",
        "",
        f"Empirical: mean (dashed) and ± sd (band) over {draws} seeded draws of G of the normalised dot product "
        "between the encoding of a token and of a token displaced along one axis; analytic: exp(-2π² s² Δ²).",
        "",
        "\n".join(table),
        "",
        "One draw of G scatters around the kernel with standard deviation sqrt((1 + k(2Δ) − 2k(Δ)²) / D) "
        "(measured vs predicted above); the mean over draws matches the kernel. Similarity maps therefore show "
        "one draw's speckle on top of the kernel's shape: larger D smooths them.",
    ]
    path = output_dir / "results.md"
    path.write_text("\n".join(lines) + "\n")
    return path
