"""The built-in activations, one self-contained entry each (entry.Activation, by keyword).

A new activation is one entry here: its formula, NumPy closed forms of f and f', its Keras
build (a keras.activations name, a function of its parameters, or a layer for a learnable
one), its parameters, its dead-unit rule and bounds, and its "auto" kernel initializer.
"auto" means He for the relu family (He et al. 2015 derive it for ReLU/PReLU; the ELU paper
uses it), LeCun for selu (what self-normalization assumes), Glorot (Keras' default) otherwise.
The tests check every entry against its closed form.
"""

from __future__ import annotations

import math

import numpy as np

from .entry import Activation


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def _phi(x):  # standard normal pdf
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _swish(beta):
    import keras

    beta = float(beta)
    return lambda x: x * keras.ops.sigmoid(beta * x)


def _learn_swish(x, beta):
    import keras

    return x * keras.ops.sigmoid(beta * x)


def _learn_elu(x, alpha):
    import keras

    return keras.ops.where(x > 0, x, alpha * keras.ops.expm1(keras.ops.minimum(x, 0.0)))


def _learn_leaky_relu(x, negative_slope):
    import keras

    return keras.ops.where(x > 0, x, negative_slope * x)


# The Padé Activation Unit (Molina, Schramowski, Kersting, ICLR 2020), "safe" form, degrees (5, 4):
# F(x) = (a0 + a1 x + ... + a5 x^5) / (1 + |b1 x + b2 x^2 + b3 x^3 + b4 x^4|), one set of
# coefficients per layer, initialised to the authors' fit of leaky ReLU (slope 0.01):
# "pade_optimized_leakyrelu" in their code (github.com/ml-research/pau, pau/cuda/python_imp/Pade.py).
PAU_A = (3.35583603e-02, 5.05000375e-01, 1.65343934e00, 2.01001052e00, 9.31901999e-01, 1.52424124e-01)
PAU_B = (3.30847488e-06, 3.98021568e00, 5.12471206e-07, 3.01830109e-01)
PAU_PARAMS = {**{f"a{j}": a for j, a in enumerate(PAU_A)}, **{f"b{k}": b for k, b in enumerate(PAU_B, start=1)}}


def _pau_parts(x, p):
    """(P(x), sum_k b_k x^k, dP/dx, d(sum)/dx) of the PAU with coefficients p, NumPy."""
    num = sum(p[f"a{j}"] * x**j for j in range(len(PAU_A)))
    den = sum(p[f"b{k}"] * x**k for k in range(1, len(PAU_B) + 1))
    dnum = sum(j * p[f"a{j}"] * x ** (j - 1) for j in range(1, len(PAU_A)))
    dden = sum(k * p[f"b{k}"] * x ** (k - 1) for k in range(1, len(PAU_B) + 1))
    return num, den, dnum, dden


def _pau_f(x, **p):
    num, den, _, _ = _pau_parts(x, p)
    return num / (1 + np.abs(den))


def _pau_df(x, **p):
    num, den, dnum, dden = _pau_parts(x, p)
    q = 1 + np.abs(den)
    return dnum / q - num * np.sign(den) * dden / q**2


def _learn_pau(x, **p):
    import keras

    # Horner's scheme: no x**j, whose gradient at x = 0 is 0 * inf = NaN for j = 0 on TensorFlow.
    num = p[f"a{len(PAU_A) - 1}"]
    for j in range(len(PAU_A) - 2, -1, -1):
        num = num * x + p[f"a{j}"]
    den = p[f"b{len(PAU_B)}"]
    for k in range(len(PAU_B) - 1, 0, -1):
        den = den * x + p[f"b{k}"]
    return num / (1 + keras.ops.abs(den * x))


def _prelu(layer_name: str, rank: int):
    import keras

    # One slope per channel, shared over the spatial axes (as in He et al. 2015).
    return keras.layers.PReLU(shared_axes=[1, 2] if rank == 4 else None, name=layer_name)


BUILTIN: tuple[Activation, ...] = (
    Activation(
        name="relu",
        formula="max(0, x)",
        f=lambda x: np.maximum(0, x),
        df=lambda x: (x > 0).astype(float),
        keras="relu",
        dead_rule="zero",
        initializer="he_normal",
    ),
    Activation(
        name="relu6",
        formula="min(max(0, x), 6)",
        f=lambda x: np.clip(x, 0, 6),
        df=lambda x: ((x > 0) & (x < 6)).astype(float),
        keras="relu6",
        dead_rule="zero",
        initializer="he_normal",
    ),
    Activation(
        name="leaky_relu",
        formula="x if x > 0 else negative_slope * x",
        f=lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
        df=lambda x, negative_slope: np.where(x > 0, 1.0, negative_slope),
        keras="leaky_relu",
        learn=_learn_leaky_relu,
        params={"negative_slope": 0.2},
        initializer="he_normal",
        aliases=("lrelu",),
    ),
    Activation(
        name="prelu",
        formula="x if x > 0 else a * x, a learned per channel (initial a = 0)",
        f=lambda x: np.maximum(0, x),
        df=lambda x: (x > 0).astype(float),
        layer=_prelu,
        initializer="he_normal",
    ),
    Activation(
        name="pau",
        formula="(a0 + a1 x + ... + a5 x^5) / (1 + |b1 x + ... + b4 x^4|), learned per layer "
        "(Molina et al. 2020; initial: their leaky ReLU fit)",
        f=_pau_f,
        df=_pau_df,
        keras=lambda **p: lambda x: _learn_pau(x, **p),
        learn=_learn_pau,
        trainable_default=True,
        params=PAU_PARAMS,
        initializer="he_normal",
        aliases=("pade",),
    ),
    Activation(
        name="elu",
        formula="x if x > 0 else alpha * (exp(x) - 1)",
        f=lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
        df=lambda x, alpha: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
        keras="elu",
        learn=_learn_elu,
        params={"alpha": 1.0},
        initializer="he_normal",
    ),
    Activation(
        name="selu",
        formula="scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha=1.67326, scale=1.05070",
        f=lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        df=lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
        keras="selu",
        initializer="lecun_normal",
    ),
    Activation(
        name="gelu",
        formula="x * Phi(x) (exact, erf form)",
        f=lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
        df=lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * _phi(x),
        keras="gelu",
    ),
    Activation(
        name="silu",
        formula="x * sigmoid(x)",
        f=lambda x: x * _sigmoid(x),
        df=lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x))),
        keras="silu",
    ),
    Activation(
        name="swish",
        formula="x * sigmoid(beta * x)",
        f=lambda x, beta: x * _sigmoid(beta * x),
        df=lambda x, beta: _sigmoid(beta * x) + beta * x * _sigmoid(beta * x) * (1 - _sigmoid(beta * x)),
        keras=_swish,
        learn=_learn_swish,
        params={"beta": 1.0},
        aliases=("swish_beta",),
    ),
    Activation(
        name="mish",
        formula="x * tanh(softplus(x))",
        f=lambda x: x * np.tanh(_softplus(x)),
        df=lambda x: np.tanh(_softplus(x)) + x * _sigmoid(x) * (1 - np.tanh(_softplus(x)) ** 2),
        keras="mish",
    ),
    Activation(name="softplus", formula="log(1 + exp(x))", f=_softplus, df=_sigmoid, keras="softplus"),
    Activation(
        name="softsign",
        formula="x / (1 + |x|)",
        f=lambda x: x / (1 + np.abs(x)),
        df=lambda x: 1 / (1 + np.abs(x)) ** 2,
        keras="softsign",
        bounds=(-1.0, 1.0),
    ),
    Activation(
        name="sigmoid",
        formula="1 / (1 + exp(-x))",
        f=_sigmoid,
        df=lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
        keras="sigmoid",
        bounds=(0.0, 1.0),
    ),
    Activation(
        name="tanh", formula="tanh(x)", f=np.tanh, df=lambda x: 1 - np.tanh(x) ** 2, keras="tanh", bounds=(-1.0, 1.0)
    ),
    Activation(
        name="hard_sigmoid",
        formula="relu6(x + 3) / 6",
        f=lambda x: np.clip(x + 3, 0, 6) / 6,
        df=lambda x: ((x > -3) & (x < 3)) / 6.0,
        keras="hard_sigmoid",
        bounds=(0.0, 1.0),
    ),
    Activation(
        name="hard_silu",
        formula="x * relu6(x + 3) / 6",
        f=lambda x: x * np.clip(x + 3, 0, 6) / 6,
        df=lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (2 * x + 3) / 6)),
        keras="hard_silu",
        aliases=("hard_swish",),
    ),
    Activation(
        name="linear",
        formula="x (no nonlinearity: a control)",
        f=lambda x: np.asarray(x, dtype=float),
        df=lambda x: np.ones_like(x, dtype=float),
        keras="linear",
        aliases=("identity",),
    ),
)
