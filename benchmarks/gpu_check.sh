#!/bin/sh
# The GPU check (issues 13, 30), as ONE device call, from the repository root:
#   run(command="sh benchmarks/gpu_check.sh", carry=[".whl", ".data"], timeout_s=600)
# after benchmarks/gpu_prepare.sh here. First, as a user would: `actbench doctor`, then
# `actbench run` on the quickstart with backend: jax (deterministic: true, the default)
# twice, compared (identical reruns?). Then Keras on JAX, full Fashion-MNIST, batch 32:
#   1. bench_packing.py: one epoch of 1, 5 and 8 towers through actbench's compiled-epoch
#      loop, then 1 and 8 towers through model.fit -> seconds per model-epoch, both drivers
#      measured in this same call (target <= 0.3 s per model-epoch, stretch 0.2);
#   2. bench_grid.py, one round: plain Keras fit per activation vs `actbench run`
#      (backend jax: the compiled loop), wall times, seconds per model-epoch and test
#      accuracy side by side, same machine, same call.
# Results land in $OUT (the device tool brings them back). About 5-7 minutes expected;
# each step is capped so the later ones still run (STEP_LIMIT seconds, default 200).
set -eu
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
LIMIT=${STEP_LIMIT:-200}
# ACTBENCH_EXPECT_GPU: `actbench run` warns in its log when JAX sees no GPU.
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 ACTBENCH_EXPECT_GPU=1
if ! "$PY" -c "import keras, pydantic" 2>/dev/null; then  # the device image has neither
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
DATA=${DATA_DIR:-.data/fashion-mnist}
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi") | tee "$OUT/gpu.txt"
"$PY" -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" | tee -a "$OUT/gpu.txt"
status=0
# 1. As a user would: doctor, then the quickstart on JAX with deterministic: true (the
#    default), twice, to see whether reruns are identical (compare says "an exact rerun").
AB="$PY -m actbench.cli"
{ cat configs/quickstart.yaml; echo "backend: jax"; } > "$OUT/quickstart-jax.yaml"
timeout 60 $AB doctor "$OUT/quickstart-jax.yaml" -o "$OUT/qs-1" > "$OUT/doctor.txt" 2>&1; echo "doctor exit $?" >> "$OUT/doctor.txt"
for k in 1 2; do
    timeout 150 $AB run "$OUT/quickstart-jax.yaml" -o "$OUT/qs-$k" > "$OUT/qs-$k.log" 2>&1; echo "run exit $?" >> "$OUT/qs-$k.log"
done
timeout 30 $AB compare "$OUT/qs-1" "$OUT/qs-2" > "$OUT/qs-compare.txt" 2>&1; echo "compare exit $?" >> "$OUT/qs-compare.txt"
cat "$OUT/doctor.txt" "$OUT/qs-1.log" "$OUT/qs-compare.txt"
timeout "$LIMIT" "$PY" benchmarks/bench_packing.py --backend jax --towers 1 5 8 --repeats 1 --data-dir "$DATA" \
    --out "$OUT/packing-gpu-compiled.json" ${GPU_CHECK_ARGS_PACKING:-} || status=$?
timeout "$LIMIT" "$PY" benchmarks/bench_packing.py --backend jax --fit --towers 1 8 --repeats 1 --data-dir "$DATA" \
    --out "$OUT/packing-gpu-fit.json" ${GPU_CHECK_ARGS_PACKING:-} || status=$?
timeout "$LIMIT" "$PY" benchmarks/bench_grid.py --backend jax --rounds 1 --data-dir "$DATA" \
    --out "$OUT/grid-gpu.json" ${GPU_CHECK_ARGS_GRID:-} || status=$?
exit $status
