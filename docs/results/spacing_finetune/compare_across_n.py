"""R3's hypothesis: does the best physical arm fine-tuned on n_small target volumes match the best arm without
physical positions fine-tuned on n_large? Paired by seed and by test case (every fine-tuning run is tested on the
same target test split), hierarchical bootstrap over seeds and cases, as in the benchmark reports.

    python docs/results/spacing_finetune/compare_across_n.py docs/results/spacing_finetune

"best" is the arm with the highest mean over seeds within its group, a choice made on the same test data, so the
interval is optimistic for both sides alike.
"""

import sys
from pathlib import Path

import numpy as np

from monai_afpe.experiments.report import read_cases, read_results_csv
from monai_afpe.experiments.statistics import hierarchical_bootstrap

PHYSICAL = ("afpe-physical", "afpe-physical-augment", "rotary-physical")


def main(folder: Path, n_small: int = 16, n_large: int = 64) -> None:
    rows = read_results_csv(folder / "results.csv")
    cases = read_cases(folder / "cases.csv.gz")
    condition = rows[0]["condition"]

    def mean(arm, test_set, metric):
        values = [r[metric] for r in rows if r["arm"] == arm and r["test_set"] == test_set]
        return float(np.mean(values)) if values else float("nan")

    arms = list(dict.fromkeys(r["arm"] for r in rows))
    for metric in ("accuracy", "auroc"):
        for start in ("finetune", "scratch"):
            physical = max((a for a in arms if a in PHYSICAL), key=lambda a: mean(a, f"finetune-{n_small}", metric))
            other = max((a for a in arms if a not in PHYSICAL), key=lambda a: mean(a, f"{start}-{n_large}", metric))
            small = cases[(condition, f"finetune-{n_small}")]
            large = cases[(condition, f"{start}-{n_large}")]
            seeds = sorted(set(small.predictions[physical]) & set(large.predictions[other]))
            result = hierarchical_bootstrap(
                [small.predictions[physical][s] for s in seeds],
                [large.predictions[other][s] for s in seeds],
                small.targets,
                metric,
            )
            print(
                f"{metric}: {physical} fine-tuned on {n_small} ({mean(physical, f'finetune-{n_small}', metric):.3f}) "
                f"- {other} {'fine-tuned' if start == 'finetune' else 'from scratch'} on {n_large} "
                f"({mean(other, f'{start}-{n_large}', metric):.3f}) = {result.mean:+.3f} "
                f"[{result.ci_low:+.3f}, {result.ci_high:+.3f}], {result.n} seeds x {result.n_cases} cases, "
                f"sign-flip p = {result.p_value:.3f}"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
