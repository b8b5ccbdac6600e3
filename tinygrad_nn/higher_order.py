"""Gradients that are graphs themselves, so they can be differentiated again.

The first-order engine (``autograd.backward``) works on numpy arrays and records
nothing. Here the same walk runs on Tensors: each op's ``tensor_backward(grad, out)``
states its rule with Tensor ops (next to its numpy ``backward`` in ``ops/``), so the
gradient it returns is recorded like any other result and has a graph of its own::

    (g,) = grad(loss, [w], create_graph=True)      # dloss/dw, a Tensor with a graph
    (hv,) = grad((g * v).sum(), [w])                # d(g . v)/dw = H v

``loss.backward(create_graph=True)`` does the same for every leaf: ``.grad`` gets the
values as always, ``.grad_tensor`` the differentiable Tensor. An op without
``tensor_backward`` raises a ``RuntimeError`` naming it.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .autograd import Function, _store_grad, enable_grad, no_grad, toposort, unbroadcast

__all__ = ["backward", "grad", "grad_tensor", "supports_create_graph"]

# leaf -> (the .grad array this pass stored, the Tensor it came from): the Tensor is shown
# only while .grad is still that array (zero_grad or a plain backward make it stale)
# keyed by id(): weak-key maps compare keys with ==, which is elementwise for Tensors
_graph_grads: dict[int, tuple] = {}


def _remember(t: Any, entry: tuple) -> None:
    if id(t) not in _graph_grads:
        weakref.finalize(t, _graph_grads.pop, id(t), None)
    _graph_grads[id(t)] = entry


def supports_create_graph(fn: Function | type) -> bool:
    """True when the op has a ``tensor_backward`` (its rule written with Tensor ops)."""
    cls = fn if isinstance(fn, type) else type(fn)
    return cls.tensor_backward is not Function.tensor_backward


def _walk(root: Any, seed: Any, wanted: Sequence, create_graph: bool) -> dict:
    """d(root)/d(t) as Tensors for every leaf that requires grad and every tensor in
    ``wanted``, by calling each op's ``tensor_backward`` in reverse topological order."""
    order = toposort(root)
    missing = sorted({fn.name for fn in order if not supports_create_graph(fn)})
    if missing:
        raise RuntimeError(
            f"backward(create_graph=True): {', '.join(missing)} "
            f"{'has' if len(missing) == 1 else 'have'} no second-order rule (tensor_backward); "
            "differentiate such a graph once only"
        )
    outputs = {t.op: t for fn in order for t in fn.inputs if t.op is not None}
    if root.op is not None:
        outputs[root.op] = root
    wanted_ops = {t.op: t for t in wanted if t.op is not None}
    found: dict = {}
    pending: dict = {} if root.op is None else {root.op: seed}
    if root.op is None:
        found[root] = seed
    with enable_grad() if create_graph else no_grad():
        for fn in reversed(order):
            g = pending.pop(fn, None)
            if g is None:
                continue
            if fn._released:
                raise RuntimeError(
                    f"backward: the graph through '{fn.name}' was freed by an earlier "
                    "backward(); pass retain_graph=True to the first call to go through it again"
                )
            if fn in wanted_ops:
                found[wanted_ops[fn]] = g
            grads = fn.tensor_backward(g, outputs[fn])
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(fn.inputs):
                raise RuntimeError(
                    f"{fn.name}: tensor_backward returned {len(grads)} gradients "
                    f"for {len(fn.inputs)} inputs"
                )
            for t, gi in zip(fn.inputs, grads):
                if gi is None or not t.requires_grad:
                    continue
                if gi.shape != t.shape:
                    gi = unbroadcast(gi, t.shape, fn.name)  # on Tensors: the sums are recorded
                if t.op is None:
                    found[t] = gi if t not in found else found[t] + gi
                else:
                    prev = pending.get(t.op)
                    pending[t.op] = gi if prev is None else prev + gi
    return found


def _seed(root: Any, grad_output: Any, where: str) -> Any:
    tensor_type = Function.result_type
    if grad_output is None:
        if root.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicit only for one-element tensors, got shape "
                f"{root.shape}; pass a gradient of that shape"
            )
        return tensor_type(np.ones(root.shape, dtype=root.dtype))
    seed = grad_output if isinstance(grad_output, tensor_type) else tensor_type(grad_output)
    if seed.shape != root.shape:
        raise ValueError(
            f"{where}: grad of shape {seed.shape} does not match tensor of shape {root.shape}"
        )
    return seed


def grad(
    output: Any, inputs: Sequence, grad_output: Any = None, create_graph: bool = False
) -> list:
    """d(output)/d(input) for each of ``inputs``, as Tensors (``.grad`` is not touched).

    ``output`` is a one-element Tensor, or any shape with ``grad_output`` (d(loss)/d(output),
    a Tensor or array of its shape). With ``create_graph=True`` the results are recorded, so
    they can be differentiated again (``grad(grad(f))``); an input the output does not
    depend on gets zeros. The graph behind ``output`` is kept.
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Function.result_type) or not t.requires_grad:
            raise ValueError(f"grad: input {i} is not a Tensor that requires grad")
    if not output.requires_grad:
        raise RuntimeError("grad: the output does not require grad and has no graph")
    found = _walk(output, _seed(output, grad_output, "grad"), inputs, create_graph)
    tensor_type = Function.result_type
    out = []
    for t in inputs:
        g = found.get(t)
        out.append(tensor_type(np.zeros(t.shape, dtype=t.dtype)) if g is None else g)
    return out


def backward(root: Any, grad_output: Any = None) -> None:
    """``root.backward(create_graph=True)``: accumulate d(root)/d(leaf) into ``.grad`` of
    every leaf that requires grad, and keep it as a recorded Tensor (:func:`grad_tensor`).

    The graph is kept (as with ``retain_graph=True``): the gradients' own graphs run
    through it.
    """
    if not root.requires_grad:
        raise RuntimeError("backward: tensor does not require grad and has no graph")
    found = _walk(root, _seed(root, grad_output, "backward"), [], create_graph=True)
    for t, g in found.items():
        if t.op is not None:
            continue
        before = _graph_grads.get(id(t))
        if t.grad is not None and before is not None and before[0] is t.grad:
            g = before[1] + g  # accumulate the graphs as .grad accumulates the values
        elif t.grad is not None:  # .grad holds values with no graph: add them as a constant
            g = g + t.grad
        t.grad = None
        _store_grad(t, g._data, copy=True)
        _remember(t, (t.grad, g))


def grad_tensor(t: Any) -> Any:
    """The gradient of leaf ``t`` as a recorded Tensor after ``backward(create_graph=True)``;
    None when there is none, or once ``.grad`` has changed since (``zero_grad``, a plain
    backward)."""
    entry = _graph_grads.get(id(t))
    if entry is None or entry[0] is not t.grad:
        return None
    return entry[1]
