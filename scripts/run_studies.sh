#!/bin/sh
# Reproduce the committed studies in results/studies/ (issue 16): each study's result files
# and its report (report/report.md with the plots). Wall time on a 2-core CPU: see
# results/studies/README.md. Needs the real MNIST (scripts/fetch_real_mnist.py, default
# ~/.cache/actbench/mnist, or ACTBENCH_REAL_MNIST) and Fashion-MNIST (e.g. Debian's
# dataset-fashion-mnist). Already finished runs are kept (actbench resumes), so an
# interrupted script continues where it stopped.
#   sh scripts/run_studies.sh [seeds-protocol lr-tuned depth-sweep remedies timing learnable]
set -eu
MNIST="${ACTBENCH_REAL_MNIST:-$HOME/.cache/actbench/mnist}"
for study in ${*:-seeds-protocol lr-tuned depth-sweep remedies timing learnable}; do
    config="configs/studies/$study-reduced.yaml"
    [ -f "$config" ] || config="configs/studies/$study.yaml"
    [ -f "$config" ] || config="configs/$study.yaml"  # run in full
    echo "== $study: $config"
    start=$(date +%s)
    if [ "$study" = seeds-protocol ] || [ "$study" = timing ]; then
        ACTBENCH_DATA_DIR="$MNIST" .venv/bin/actbench run "$config" --report
    else
        .venv/bin/actbench run "$config" --report
    fi
    echo "== $study: $(( $(date +%s) - start )) s"
done
