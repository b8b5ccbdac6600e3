"""Losses: fused softmax cross-entropy, general cross-entropy, the L2 penalty.

Each op: ``forward`` on numpy arrays saves what ``backward`` needs; ``backward`` gets
d(loss)/d(output) and returns one gradient per positional input (the engine undoes
broadcasting). ``forward_code`` / ``backward_code`` are the same computations as numpy
source for ``compile`` (see ``codegen.Code``): they must compute the same bits.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from .nonlinear import _log_softmax

__all__ = ["CrossEntropy", "L2Penalty", "SoftmaxCrossEntropy", "flat_targets"]


def _check_targets(targets, n: int, k: int, name: str = "softmax_cross_entropy") -> np.ndarray:
    t = np.asarray(targets)
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(
            f"{name}: targets must have shape ({n},) to match logits with "
            f"{n} rows, got shape {t.shape}"
        )
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise ValueError(f"{name}: targets must be integer class indices")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iu":
        raise ValueError(f"{name}: targets must be integer class indices, got dtype {t.dtype}")
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(
            f"{name}: targets must lie in [0, {k}), got values from {t.min()} to {t.max()}"
        )
    return t


def flat_targets(targets: np.ndarray, n: int, k: int) -> np.ndarray:
    """Positions ``row * k + target`` of each row's target in an (n, k) array: one C call
    that also checks the range; other targets (floats, wrong shapes, out of range) go
    through the full check, which says what is wrong."""
    rows = np.arange(n)
    if targets.dtype.kind in "iu" and targets.shape == (n,):
        try:
            return np.ravel_multi_index((rows, targets), (n, k))
        except ValueError:
            pass  # out of range: the full check below says how
    return np.ravel_multi_index((rows, _check_targets(targets, n, k)), (n, k))


class SoftmaxCrossEntropy(Function):
    """Mean over N of -log softmax(logits)[target]; fused for stability.

    logits: (N, K), targets: (N,) integer classes.

    Rule: d logits = dy * (softmax(logits) - onehot(targets)) / N.
    """

    def forward(self, logits, targets):
        if logits.ndim != 2:
            raise ValueError(
                f"softmax_cross_entropy: logits must be 2-D (N, K), got shape {logits.shape}"
            )
        n, k = logits.shape
        if n == 0:
            raise ValueError("softmax_cross_entropy: logits have no rows (N = 0)")
        # each row's target as a position in the flattened (n, k) array, checked
        picks = self.picks = flat_targets(np.asarray(targets), n, k)
        # log p[target] = z[target] - log sum_j e^z_j with z = logits - max (log-sum-exp)
        z = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
        e = np.exp(z)
        total = np.add.reduce(e, axis=1, keepdims=True)
        loss = np.add.reduce(np.log(total[:, 0]) - z.reshape(-1)[picks]) / n
        e /= total  # softmax
        e.reshape(-1)[picks] -= 1
        e /= n
        self.grad_logits = e
        return loss

    def backward(self, grad):
        return grad * self.grad_logits

    def tensor_backward(self, grad, out):
        n, k = self.inputs[0].shape
        onehot = np.zeros((n, k), dtype=self.grad_logits.dtype)
        onehot.reshape(-1)[self.picks] = 1
        return (self.inputs[0].softmax(axis=1) - onehot) * (grad / n)

    def forward_code(self, c, logits, targets):
        n, k = c.shape(logits)
        if not isinstance(targets, str):  # a list written in the code: a constant
            targets = c.const(np.asarray(targets), "targets")
        flat = c.let(f"flat_targets({targets}, {n}, {k})", shape=(n,), dtype=np.intp, hint="picks")
        c.bind("flat_targets", flat_targets)
        z = c.new(logits, reuse=logits, hint="grad_logits")
        c.line(
            f"np.subtract({logits}, np.maximum.reduce({logits}, axis=1, keepdims=True), out={z})"
        )
        picked = c.let(f"{z}.reshape(-1)[{flat}]", z, hint="picked")
        c.line(f"np.exp({z}, out={z})")
        total = c.let(
            f"np.add.reduce({z}, axis=1, keepdims=True)",
            shape=(n, 1),
            dtype=c.dtype(z),
            hint="total",
        )
        loss = c.let(
            f"np.add.reduce(np.log({total}[:, 0]) - {picked}) / {n}", like=c.out, hint="loss"
        )
        c.line(f"{z} /= {total}")
        c.line(f"{z}.reshape(-1)[{flat}] -= 1", writes=z)
        c.line(f"{z} /= {n}")
        c.saved["grad_logits"] = z
        return loss

    def backward_code(self, c, grad):
        if c.is_one(grad):  # grad * x is x, bit for bit, when grad is 1
            return c.saved["grad_logits"]
        g = c.new(grad, c.saved["grad_logits"], hint=f"g_{c.hint}")
        c.line(f"np.multiply({grad}, {c.saved['grad_logits']}, out={g})")
        return g


class L2Penalty(Function):
    """scale * sum over the inputs of ||W||^2, one op for all the weight matrices.

    (``nn.l2_penalty`` uses it with scale = lam / (2 n).)

    Rule: dW = dy * 2 scale W for every W.
    """

    def forward(self, *weights, scale):
        self.weights, self.scale = weights, scale
        total = sum(float(np.vdot(w, w)) for w in weights)
        return np.asarray(scale * total, dtype=np.result_type(*weights))

    def backward(self, grad):
        factor = 2 * self.scale * grad
        return tuple(factor * w for w in self.weights)

    def tensor_backward(self, grad, out):
        factor = grad * (2 * self.scale)
        return tuple(factor * w for w in self.inputs)

    def forward_code(self, c, *weights, scale):
        c.saved["weights"] = weights
        total = "(" + " + ".join(f"float(np.vdot({w}, {w}))" for w in weights) + ")"
        return c.let(
            f"np.asarray({c.lit(scale)} * {total}, dtype={c.out.dtype.name!r})", like=c.out
        )

    def backward_code(self, c, grad):
        factor = c.let(f"{c.lit(2 * self.scale)} * {grad}", grad, 1.0, hint="factor")
        grads = []
        for w, need in zip(c.saved["weights"], self.needs_input_grad):
            g = c.new(factor, w, hint=f"g_{c.hint}") if need else None
            if need:
                c.line(f"np.multiply({factor}, {w}, out={g})")
            grads.append(g)
        return tuple(grads)


_REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """Cross-entropy of logits (N, K) against class indices (N,) or class probabilities
    (N, K), as PyTorch defines it, fused and stable (log-softmax by log-sum-exp).

    The target distribution q (one-hot rows, or the given probabilities) is smoothed to
    (1 - eps) q + eps / K; loss_n = -sum_k w_k q_nk log softmax(z_n)_k with class weights
    w (ones by default). ``reduction="mean"`` divides the sum by sum_n w[target_n] for
    indices and by N for probabilities; "sum" sums; "none" returns the N losses.
    The target gets no gradient.

    Rule: d logits_n = dy_n * (softmax(logits_n) sum_k w_k q_nk - w q_n) / (the mean's divisor).
    """

    def forward(self, logits, target, weight=None, reduction="mean", label_smoothing=0.0):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
            )
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}"
            )
        if logits.ndim != 2:
            raise ValueError(f"cross_entropy: logits must be 2-D (N, K), got shape {logits.shape}")
        n, k = logits.shape
        target = np.asarray(target)
        dtype = logits.dtype
        if target.shape == (n, k):
            q = target.astype(dtype)
            indices = None
        elif target.ndim == 1 and target.shape[0] == n:
            indices = _check_targets(target, n, k, self.name)
            q = np.zeros((n, k), dtype=dtype)
            q[np.arange(n), indices] = 1
        else:
            raise ValueError(
                f"cross_entropy: target of shape {target.shape} fits neither class indices "
                f"({n},) nor class probabilities ({n}, {k}) for logits of shape {logits.shape}"
            )
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / k
        if weight is not None:
            weight = np.asarray(weight, dtype=dtype)
            if weight.shape != (k,):
                raise ValueError(
                    f"cross_entropy: weight must have shape ({k},) for {k} classes, "
                    f"got {weight.shape}"
                )
            q = q * weight
        logp = _log_softmax(logits, 1)
        losses = -(q * logp).sum(axis=1)
        self.softmax, self.q, self.reduction = np.exp(logp), q, reduction
        if reduction == "none":
            return losses
        self.total = dtype.type(1)
        if reduction == "mean":
            self.total = dtype.type(
                n if weight is None or indices is None else weight[indices].sum()
            )
        return np.asarray(losses.sum() / self.total)

    def backward(self, grad):
        g = grad[:, None] if self.reduction == "none" else grad / self.total
        q = self.q
        return g * (self.softmax * q.sum(axis=1, keepdims=True) - q)

    def tensor_backward(self, grad, out):
        g = grad.reshape(-1, 1) if self.reduction == "none" else grad / float(self.total)
        q = self.q
        return g * (self.inputs[0].softmax(axis=1) * q.sum(axis=1, keepdims=True) - q)
