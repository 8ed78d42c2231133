#!/bin/sh
# Run HERE (a machine with PyPI) before the GPU check: puts what the device machine lacks
# into two git-ignored folders that the device tool carries (`carry: [".whl", ".data"]`):
#   .whl/  Keras and pydantic wheels for the device's Python 3.12 (it has JAX, pandas,
#          rich, typer, pyyaml, scipy, matplotlib, but no Keras, no pydantic, no TensorFlow);
#   .data/fashion-mnist/  Debian's Fashion-MNIST IDX files (the device has no internet).
# Then run benchmarks/gpu_check.sh there (benchmarks/README.md, "GPU check").
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    keras==3.15.1 namex==0.1.0 optree==0.20.0 \
    pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
mkdir -p .data/fashion-mnist
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .data/fashion-mnist/
du -sh .whl .data
