"""A small residual network for CIFAR-10 with Keras' augmentation layers, as an actbench
model builder. Augmentation layers are active in training only (Keras turns them off in
inference), so evaluation and diagnostics see the plain images.

    RandomFlip, RandomTranslation -> Conv(16) -> act
    -> 3 stages (16, 32, 64 filters; the last two halve the image): residual blocks of
       conv -> BN -> act -> conv -> BN, + shortcut (1x1 conv where the shape changes), -> act
    -> GlobalAveragePooling -> Dense(num_classes, softmax)
"""

import keras
from keras import layers


def _block(x, filters, stride, act):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = act()(layers.BatchNormalization()(y))
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
    return act()(layers.Add()([y, shortcut]))


def build(act, input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = layers.RandomFlip("horizontal")(inputs)
    x = layers.RandomTranslation(0.1, 0.1)(x)
    x = act()(layers.Conv2D(16, 3, padding="same")(x))
    for filters, stride in [(16, 1), (32, 2), (64, 2)]:
        x = _block(x, filters, stride, act)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))
