#!/usr/bin/env bash
# Baseline table of this bundle: the shipped recipe with only the network's use of spacing changed.
# Usage (from the bundle folder): scripts/baselines.sh "0 1 2" "afpe sincos sincos_spacing_embedding monai_vit_resample" [extra bundle args]
# Each run trains with configs/train.json (+ configs/baselines/<arm>.json) and evaluates on the test split;
# checkpoints and metrics go to baselines/<arm>/seed<k>/ (ignored by git), then a table of every finished
# run is printed. "afpe" is the shipped configuration itself.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-"0 1 2"}
arms=${2:-"afpe sincos sincos_spacing_embedding monai_vit_resample"}
extra=${3:-}
for seed in $seeds; do
    for arm in $arms; do
        out="baselines/$arm/seed$seed"
        if [ -f "$out/eval/metrics.csv" ]; then continue; fi
        configs="'configs/train.json'"
        if [ "$arm" != "afpe" ]; then configs="$configs,'configs/baselines/$arm.json'"; fi
        mkdir -p "$out"
        start=$(date +%s)
        # shellcheck disable=SC2086
        python -m monai.bundle run --config_file "[$configs]" --seed "$seed" \
            --ckpt_dir "$out/models" --output_dir "$out/eval" $extra > "$out/run.log" 2>&1
        # shellcheck disable=SC2086
        python -m monai.bundle run --config_file "[$configs,'configs/evaluate.json']" --seed "$seed" \
            --ckpt_dir "$out/models" --output_dir "$out/eval" $extra >> "$out/run.log" 2>&1
        echo "$arm seed $seed: $(( $(date +%s) - start )) s, $(tr '\n' ' ' < "$out/eval/metrics.csv")"
    done
done
python - <<'PY'
import csv, pathlib, statistics
rows = []
for metrics in sorted(pathlib.Path("baselines").glob("*/seed*/eval/metrics.csv")):
    values = dict(csv.reader(open(metrics)))
    rows.append((metrics.parts[1], metrics.parts[2], float(values["test_accuracy"]), float(values["test_auroc"])))
print("| arm | seeds | test accuracy (per seed) | mean | test AUROC mean |")
print("|---|---|---|---|---|")
for arm in dict.fromkeys(r[0] for r in rows):
    mine = [r for r in rows if r[0] == arm]
    accuracy = [r[2] for r in mine]
    print(f"| {arm} | {len(mine)} | {' / '.join(f'{a:.3f}' for a in accuracy)} | {statistics.mean(accuracy):.3f} | "
          f"{statistics.mean(r[3] for r in mine):.3f} |")
PY
