"""Keras' "Simple MNIST convnet" example (keras.io/examples/vision/mnist_convnet), as an
actbench model builder: the same network, with act() where the example has relu.

    Conv2D(32, 3) -> act -> MaxPool(2) -> Conv2D(64, 3) -> act -> MaxPool(2)
    -> Flatten -> Dropout(0.5) -> Dense(num_classes, softmax)       34,826 parameters on MNIST
"""

import keras
from keras import layers


def build(act, input_shape, num_classes):
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3)),
            act(),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3)),
            act(),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
