"""Tests for tinygrad_nn.optim: SGD with the tutorial's momentum, and Adam."""

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn.optim import SGD, Adam

# A hand-made quadratic problem: f(W, b) = 1/2 sum c_W (W - T_W)^2 + 1/2 sum c_b (b - T_b)^2,
# whose gradient is c (p - T) for each parameter.
_R = np.random.default_rng(42)
W0, B0 = _R.normal(size=(3, 2)), _R.normal(size=(2,))
TW, TB = _R.normal(size=(3, 2)), _R.normal(size=(2,))
CW, CB = _R.uniform(0.5, 3.0, size=(3, 2)), _R.uniform(0.5, 3.0, size=(2,))


def _params():
    return (
        tg.Tensor(W0.copy(), requires_grad=True),
        tg.Tensor(B0.copy(), requires_grad=True),
    )


def _backward(w, b):
    loss = ((w - TW) ** 2 * CW).sum() * 0.5 + ((b - TB) ** 2 * CB).sum() * 0.5
    loss.backward()
    return loss.item()


def _grads(w, b):
    """The same gradient, by hand."""
    return CW * (w - TW), CB * (b - TB)


def _run(opt, w, b, steps):
    for _ in range(steps):
        opt.zero_grad()
        _backward(w, b)
        opt.step()


def test_backward_gives_the_hand_gradient():
    w, b = _params()
    _backward(w, b)
    gw, gb = _grads(W0, B0)
    np.testing.assert_allclose(w.grad, gw, rtol=1e-12)
    np.testing.assert_allclose(b.grad, gb, rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_matches_the_tutorial_update(momentum):
    lr, steps = 0.1, 6
    w, b = _params()
    opt = SGD([w, b], lr=lr, momentum=momentum)
    # by hand: V <- mu V - alpha g; W <- W + V, velocities start at 0
    hw, hb = W0.copy(), B0.copy()
    vw, vb = np.zeros_like(hw), np.zeros_like(hb)
    for _ in range(steps):
        opt.zero_grad()
        _backward(w, b)
        opt.step()
        gw, gb = _grads(hw, hb)
        vw = momentum * vw - lr * gw
        vb = momentum * vb - lr * gb
        hw, hb = hw + vw, hb + vb
        np.testing.assert_allclose(w.data, hw, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b.data, hb, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.velocity[0], vw, rtol=1e-12, atol=1e-14)
    assert not np.allclose(w.data, W0)


def test_sgd_momentum_makes_a_difference():
    w1, b1 = _params()
    w2, b2 = _params()
    _run(SGD([w1, b1], lr=0.1), w1, b1, 3)
    _run(SGD([w2, b2], lr=0.1, momentum=0.9), w2, b2, 3)
    assert not np.allclose(w1.data, w2.data)


def test_sgd_reduces_the_loss():
    w, b = _params()
    opt = SGD([w, b], lr=0.1, momentum=0.5)
    first = _backward(w, b)
    _run(opt, w, b, 30)
    w.zero_grad()
    b.zero_grad()
    assert _backward(w, b) < 0.1 * first


@pytest.mark.parametrize("eps", [1e-8, 0.1])
def test_adam_matches_the_published_update(eps):
    lr, b1, b2, steps = 0.05, 0.8, 0.95, 7
    w, b = _params()
    opt = Adam([w, b], lr=lr, betas=(b1, b2), eps=eps)
    hw, hb = W0.copy(), B0.copy()
    m = [np.zeros_like(hw), np.zeros_like(hb)]
    v = [np.zeros_like(hw), np.zeros_like(hb)]
    for t in range(1, steps + 1):
        opt.zero_grad()
        _backward(w, b)
        opt.step()
        grads = _grads(hw, hb)
        new = []
        for i, (p, g) in enumerate(zip((hw, hb), grads)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            new.append(p - lr * m_hat / (np.sqrt(v_hat) + eps))
        hw, hb = new
        np.testing.assert_allclose(w.data, hw, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b.data, hb, rtol=1e-10, atol=1e-12)
    assert opt.t == steps


def test_adam_first_step_is_lr_times_sign():
    # with bias correction the first step is lr * g / (|g| + eps): about lr in each coordinate
    w, b = _params()
    opt = Adam([w, b], lr=0.01)
    _run(opt, w, b, 1)
    gw, _ = _grads(W0, B0)
    np.testing.assert_allclose(w.data - W0, -0.01 * np.sign(gw), rtol=1e-5)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps)])
def test_parameters_without_grad_are_skipped(make):
    w, b = _params()
    unused = tg.Tensor(np.arange(4.0), requires_grad=True)
    opt = make([w, unused, b])
    _run(opt, w, b, 3)
    assert unused.grad is None
    assert np.array_equal(unused.data, np.arange(4.0))
    assert not np.allclose(w.data, W0)
    slots = [getattr(opt, s) for s in type(opt).slots]
    for slot in slots:
        assert np.all(slot[1] == 0)


def test_zero_grad_sets_none():
    w, b = _params()
    opt = SGD([w, b], lr=0.1)
    _backward(w, b)
    assert w.grad is not None
    opt.zero_grad()
    assert w.grad is None and b.grad is None


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.9)),
    ],
)
def test_state_dict_round_trip_continues_identically(make):
    w, b = _params()
    opt = make([w, b])
    _run(opt, w, b, 3)
    state = opt.state_dict()
    saved_w, saved_b = w.data.copy(), b.data.copy()
    _run(opt, w, b, 4)  # uninterrupted

    w2 = tg.Tensor(saved_w.copy(), requires_grad=True)
    b2 = tg.Tensor(saved_b.copy(), requires_grad=True)
    opt2 = make([w2, b2])
    opt2.load_state_dict(state)
    _run(opt2, w2, b2, 4)  # restored
    assert np.array_equal(w2.data, w.data)
    assert np.array_equal(b2.data, b.data)

    # without the optimizer state the continuation differs (the state matters)
    w3 = tg.Tensor(saved_w.copy(), requires_grad=True)
    b3 = tg.Tensor(saved_b.copy(), requires_grad=True)
    _run(make([w3, b3]), w3, b3, 4)
    assert not np.array_equal(w3.data, w.data)


def test_state_dict_holds_copies():
    w, b = _params()
    opt = SGD([w, b], lr=0.1, momentum=0.9)
    _run(opt, w, b, 2)
    state = opt.state_dict()
    assert state["type"] == "SGD"
    assert state["lr"] == 0.1 and state["momentum"] == 0.9
    before = opt.velocity[0].copy()
    state["velocity.0"][...] = 99.0
    assert np.array_equal(opt.velocity[0], before)


def test_adam_state_dict_keeps_step_count():
    w, b = _params()
    opt = Adam([w, b])
    _run(opt, w, b, 5)
    opt2 = Adam(list(_params()))
    opt2.load_state_dict(opt.state_dict())
    assert opt2.t == 5
    for a, c in zip(opt.m + opt.s, opt2.m + opt2.s):
        assert np.array_equal(a, c)


def test_load_state_dict_rejects_other_optimizer_and_shapes():
    w, b = _params()
    sgd_state = SGD([w, b], lr=0.1, momentum=0.9).state_dict()
    with pytest.raises(ValueError):
        Adam([w, b]).load_state_dict(sgd_state)
    other = SGD([tg.Tensor(np.zeros(5), requires_grad=True), b], lr=0.1)
    with pytest.raises(ValueError, match="velocity.0"):
        other.load_state_dict(sgd_state)
    missing = {k: v for k, v in sgd_state.items() if k != "velocity.1"}
    with pytest.raises(ValueError, match="velocity.1"):
        SGD([w, b], lr=0.1).load_state_dict(missing)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.0),
        lambda ps: SGD(ps, lr=-0.1),
        lambda ps: SGD(ps, lr=float("nan")),
        lambda ps: SGD(ps, lr=0.1, momentum=-0.1),
        lambda ps: SGD(ps, lr=0.1, momentum=1.0),
        lambda ps: Adam(ps, lr=0.0),
        lambda ps: Adam(ps, lr=-1e-3),
        lambda ps: Adam(ps, betas=(1.0, 0.999)),
        lambda ps: Adam(ps, betas=(0.9, -0.1)),
        lambda ps: Adam(ps, eps=0.0),
        lambda ps: Adam(ps, eps=-1e-8),
        lambda ps: SGD([], lr=0.1),
        lambda ps: Adam([]),
    ],
)
def test_bad_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make(list(_params()))


def test_non_parameters_are_rejected():
    frozen = tg.Tensor(np.zeros(3))
    with pytest.raises(TypeError):
        SGD([frozen], lr=0.1)
    with pytest.raises(TypeError):
        Adam([np.zeros(3)])


def test_optimizer_trains_an_mlp_in_float32():
    model = tg.nn.MLP([4, 8, 3], "tanh", rng=0)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32))
    y = np.random.default_rng(1).integers(0, 3, size=30)
    opt = Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        loss = tg.softmax_cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    assert all(p.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, 0.1, 0.9), lambda ps: Adam(ps, 0.01)])
def test_shared_buffer_and_per_parameter_paths_agree(make):
    """Each parameter is updated in its own array; replacing one's array (``p.data = copy``)
    between steps gives the same numbers as keeping it."""
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (4, 2)]
    start = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(4)]
    results = []
    for broken in (False, True):
        params = [tg.Tensor(a.copy(), requires_grad=True) for a in start]
        opt = make(params)
        if broken:  # a fresh array, set after the optimizer was made
            params[1].data = params[1].data.copy()
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = g.copy()
            opt.step()
        results.append([p.data.copy() for p in params])
    for fused, separate in zip(*results):
        assert np.array_equal(fused, separate)


# ----------------------------------------------------------------------------- issue 9 regressions
# Each test below failed on the engine before the redesign (commit 0902d34).

MAKERS = [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.01)]


@pytest.mark.parametrize("make", MAKERS, ids=["SGD", "Adam"])
def test_duplicate_parameters_raise_value_error(make):
    w, b = _params()
    with pytest.raises(ValueError, match="appears more than once"):
        make([w, w])
    with pytest.raises(ValueError, match="appears more than once"):
        make([w, b, w])
    named = tg.Tensor(np.zeros(2), requires_grad=True, name="fc1.weight")
    with pytest.raises(ValueError, match="parameter 'fc1.weight' appears more than once"):
        make([named, named])


@pytest.mark.parametrize("make", MAKERS, ids=["SGD", "Adam"])
def test_optimizer_made_between_forward_and_backward_gives_no_false_error(make):
    w, b = _params()
    loss = ((w - TW) ** 2 * CW).sum() * 0.5 + ((b - TB) ** 2 * CB).sum() * 0.5
    opt = make([w, b])
    loss.backward()  # no "modified in place" error: creating an optimizer changes nothing
    gw, gb = _grads(W0, B0)
    np.testing.assert_allclose(w.grad, gw, rtol=1e-12)
    np.testing.assert_allclose(b.grad, gb, rtol=1e-12)
    opt.step()
    assert not np.allclose(w.data, W0)


@pytest.mark.parametrize("n_params", [2, 60])
@pytest.mark.parametrize("make", MAKERS, ids=["SGD", "Adam"])
def test_parameters_keep_their_own_arrays(make, n_params):
    rng = np.random.default_rng(0)
    params = [tg.Tensor(rng.normal(size=(3, 2)), requires_grad=True) for _ in range(n_params)]
    taken = [p.data for p in params]  # arrays the user holds before the optimizer exists
    opt = make(params)
    for step in range(3):
        for p in params:
            p.grad = np.full(p.shape, 0.5 + step)
        opt.step()
    for p, arr in zip(params, taken):
        assert p.data is arr  # the same array, updated in place: it tracks the parameter
        assert not np.allclose(arr, 0)
    for i, p in enumerate(params):  # and no two parameters share memory
        for q in params[i + 1 :]:
            assert not np.shares_memory(p.data, q.data)


# ----------------------------------------------------------------------------- steps while held


@pytest.mark.parametrize("make", MAKERS, ids=["SGD", "Adam"])
def test_step_while_a_stale_graph_is_alive_is_caught_at_its_backward(make):
    w, b = _params()
    opt = make([w, b])
    stale = ((w - TW) ** 2).sum() + b.sum()
    w.grad, b.grad = np.ones_like(W0), np.ones_like(B0)
    opt.step()  # the owner may update a held parameter ...
    with pytest.raises(RuntimeError, match="modified in place after the forward pass"):
        stale.backward()  # ... and the old graph's backward refuses
    del stale
    w.data[0, 0] = 1.0  # nothing holds it any more


def test_load_state_dict_while_held_is_caught_at_backward():
    model = tg.nn.MLP([2, 3, 1], "tanh", rng=0)
    state = tg.nn.MLP([2, 3, 1], "tanh", rng=1).state_dict()
    loss = model(tg.Tensor(np.ones((4, 2)))).sum()
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.fc1.weight.data, state["fc1.weight"])
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


@pytest.mark.parametrize("make", MAKERS, ids=["SGD", "Adam"])
def test_step_on_a_parameter_whose_array_another_graph_holds_raises_before_writing(make):
    w, b = _params()
    opt = make([w, b])
    frozen = w.detach()  # shares w's array, used in a graph that is still alive
    x = tg.Tensor(np.ones(3), requires_grad=True)
    other = (x @ frozen).sum()
    w.grad, b.grad = np.ones_like(W0), np.ones_like(B0)
    state = [a.copy() for a in opt.state_dict().values() if isinstance(a, np.ndarray)]
    with pytest.raises(RuntimeError, match=r"cannot be updated in place: .* held .* 'matmul'"):
        opt.step()
    np.testing.assert_array_equal(w.data, W0)  # not silently changed under `other`
    after = [a for a in opt.state_dict().values() if isinstance(a, np.ndarray)]
    for a, c in zip(state, after):  # and the optimizer's state is as it was
        np.testing.assert_array_equal(a, c)
    other.backward()
    np.testing.assert_array_equal(x.grad, W0.sum(axis=1))
    opt.step()  # that graph is done: the update goes through
    assert not np.array_equal(w.data, W0)
