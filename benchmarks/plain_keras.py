"""The plain-Keras baseline: what a user writes to train the reference CNN with one activation.

    python benchmarks/plain_keras.py relu [--data-dir DIR] [--epochs 3] [--batch-size 32]
        [--validation-split 0.1] [--seed 0] [--train-limit N] [--test-limit N]

Prints ONE JSON line on stdout: activation, test_accuracy, test_loss, fit_seconds,
total_seconds (inside the process, from the first line of this script). Everything
else (TF logs) goes to stderr. --train-limit/--test-limit take the first N examples
(for quick development runs only; the benchmark's real comparison uses all of them).
"""

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("activation")
p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--epochs", type=int, default=3)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--validation-split", type=float, default=0.1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--train-limit", type=int, default=None)
p.add_argument("--test-limit", type=int, default=None)
args = p.parse_args()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
from keras import layers  # noqa: E402


def idx(name):
    with gzip.open(os.path.join(args.data_dir, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


x_train, y_train = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
x_test, y_test = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
if args.train_limit:
    x_train, y_train = x_train[: args.train_limit], y_train[: args.train_limit]
if args.test_limit:
    x_test, y_test = x_test[: args.test_limit], y_test[: args.test_limit]
x_train = (x_train / 255.0)[..., np.newaxis]
x_test = (x_test / 255.0)[..., np.newaxis]

keras.utils.set_random_seed(args.seed)
A = args.activation
model = keras.Sequential(
    [
        layers.Conv2D(32, (3, 3), activation=A, input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation=A),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
t = time.perf_counter()
model.fit(
    x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=args.validation_split, verbose=0
)
fit_seconds = time.perf_counter() - t
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(
    json.dumps(
        {
            "activation": A,
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "fit_seconds": round(fit_seconds, 3),
            "total_seconds": round(time.perf_counter() - T0, 3),
        }
    ),
    flush=True,
)
