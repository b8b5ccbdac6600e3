"""A small convolutional network on the 8x8 digits, built from layers.

Conv2d, MaxPool2d and Flatten work on NCHW images; the engine derives every backward pass.
Training uses Nesterov momentum, a cosine learning-rate schedule and random shifts,
rotations and scalings of the training images; the test set is scored once at the end.

Run: python examples/cnn.py        (about 10 s)
"""

import numpy as np

from tinygrad_nn import Tensor, no_grad, softmax_cross_entropy
from tinygrad_nn.data import minibatches
from tinygrad_nn.digits.data import affine_augment, load_digits_splits
from tinygrad_nn.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from tinygrad_nn.optim import SGD, CosineAnnealingLR

rng = np.random.default_rng(0)
model = Sequential(
    Conv2d(1, 16, 3, padding=1, rng=rng),  # (N, 1, 8, 8) -> (N, 16, 8, 8)
    ReLU(),
    Conv2d(16, 32, 3, padding=1, rng=rng),
    ReLU(),
    MaxPool2d(2),  # -> (N, 32, 4, 4)
    Conv2d(32, 64, 3, padding=1, rng=rng),
    ReLU(),
    MaxPool2d(2),  # -> (N, 64, 2, 2)
    Flatten(),  # -> (N, 256)
    Linear(256, 10, rng=rng),
)


def images(X):
    return Tensor(X.reshape(-1, 1, 8, 8))


def accuracy(X, y):
    with no_grad():
        return float(np.mean(np.argmax(model(images(X)).data, axis=1) == y))


data = load_digits_splits(scale=True)  # pixels / 16, the tutorial's splits
epochs = 30
opt = SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=3e-4)
schedule = CosineAnnealingLR(opt, T_max=epochs)
for epoch in range(epochs):
    for idx in minibatches(len(data.X_train), 32, rng):
        X = affine_augment(data.X_train[idx], rng)
        loss = softmax_cross_entropy(model(images(X)), data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    schedule.step()
    if epoch % 5 == 4:
        print(
            f"epoch {epoch + 1:2d}  validation accuracy {accuracy(data.X_valid, data.y_valid):.4f}"
        )
print(f"test accuracy {accuracy(data.X_test, data.y_test):.4f}")
