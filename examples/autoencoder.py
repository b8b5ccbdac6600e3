"""An autoencoder on the 8x8 digits: 64 -> 16 -> 64, trained to reproduce its input.

The 16-number code is a learned compression of each image; the mean squared error of the
reconstruction is the loss. Prints the error on the test set and one digit before and after.

Run: python examples/autoencoder.py        (about 5 s)
"""

import numpy as np

from tinygrad_nn import Tensor, no_grad
from tinygrad_nn.data import minibatches
from tinygrad_nn.digits.data import load_digits_splits
from tinygrad_nn.losses import mse_loss
from tinygrad_nn.nn import Linear, Module
from tinygrad_nn.optim import AdamW


class AutoEncoder(Module):
    def __init__(self, rng):
        self.encoder = Linear(64, 16, rng=rng)
        self.decoder = Linear(16, 64, rng=rng)

    def forward(self, x):
        code = self.encoder(x).tanh()
        return self.decoder(code).sigmoid()  # pixels / 16 lie in [0, 1]


rng = np.random.default_rng(0)
data = load_digits_splits(scale=True)
model = AutoEncoder(rng)
opt = AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
for _ in range(60):
    for idx in minibatches(len(data.X_train), 32, rng):
        x = Tensor(data.X_train[idx])
        loss = mse_loss(model(x), x)  # shapes must match: (N, 64) and (N, 64)
        opt.zero_grad()
        loss.backward()
        opt.step()

with no_grad():
    test = Tensor(data.X_test)
    reconstruction = model(test)
    print(f"test reconstruction MSE {mse_loss(reconstruction, test).item():.4f}", end=" ")
    print(f"(predicting the mean image: {np.mean((data.X_test - data.X_train.mean(0)) ** 2):.4f})")
for title, image in (("original", data.X_test[0]), ("reconstructed", reconstruction.data[0])):
    print(title)
    for row in image.reshape(8, 8):
        print("  " + "".join(" .:-=+*#%@"[min(int(v * 10), 9)] for v in row))
