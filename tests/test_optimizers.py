"""SGD with Nesterov momentum and weight decay, AdamW, and the learning-rate schedulers,
each against its formula written out here; state_dict round trips."""

import math

import numpy as np
import pytest

from tinygrad_nn import Tensor, optim

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 0.75, 1.0]), np.array([1.5, 0.0, -2.0])]
START = np.array([1.0, -2.0, 0.5])


def _run(make, steps=3):
    """Parameter values after each step of an optimizer fed the fixed GRADS."""
    p = Tensor(START.copy(), requires_grad=True)
    opt = make([p])
    out = []
    for g in GRADS[:steps]:
        p.grad = g.copy()
        opt.step()
        out.append(p.data.copy())
    return out


def _sgd_formula(lr, mu, wd, nesterov):
    p, v, out = START.copy(), np.zeros(3), []
    for g in GRADS:
        g = g + wd * p
        v = mu * v - lr * g
        p = p + (mu * v - lr * g if nesterov else v)
        out.append(p)
    return out


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_sgd_matches_formula(nesterov, wd):
    got = _run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=wd))
    for a, b in zip(got, _sgd_formula(0.1, 0.9, wd, nesterov)):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_sgd_nesterov_equals_pytorchs_form():
    # PyTorch: b <- mu b + g; p <- p - lr (g + mu b); the same for a constant lr (v = -lr b)
    p, b = START.copy(), np.zeros(3)
    for g in GRADS:
        b = 0.9 * b + g
        p = p - 0.1 * (g + 0.9 * b)
    got = _run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True))
    np.testing.assert_allclose(got[-1], p, rtol=1e-14)


def test_sgd_weight_decay_alone_shrinks_towards_zero():
    p = Tensor(np.array([2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.5, weight_decay=0.2)
    p.grad = np.zeros(1)
    opt.step()
    np.testing.assert_allclose(p.data, [2.0 * (1 - 0.5 * 0.2)])


def _adamw_formula(lr, b1, b2, eps, wd):
    p, m, s, out = START.copy(), np.zeros(3), np.zeros(3), []
    for t, g in enumerate(GRADS, start=1):
        p = p - lr * wd * p
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
        out.append(p)
    return out


@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_adamw_matches_formula(wd):
    got = _run(lambda ps: optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=wd))
    for a, b in zip(got, _adamw_formula(0.01, 0.8, 0.99, 1e-6, wd)):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_adamw_without_decay_is_adam():
    a = _run(lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.0))
    b = _run(lambda ps: optim.Adam(ps, lr=0.01))
    np.testing.assert_array_equal(a[-1], b[-1])


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    ],
)
def test_state_dict_resumes_exactly(make):
    whole = _run(make, steps=3)[-1]
    p = Tensor(START.copy(), requires_grad=True)
    opt = make([p])
    p.grad = GRADS[0].copy()
    opt.step()
    state, values = opt.state_dict(), p.data.copy()
    q = Tensor(values, requires_grad=True)
    resumed = make([q])
    resumed.lr = 123.0  # overwritten by the state
    resumed.load_state_dict(state)
    for g in GRADS[1:]:
        q.grad = g.copy()
        resumed.step()
    np.testing.assert_array_equal(q.data, whole)
    assert state["weight_decay"] in (0.01, 0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "SGD: nesterov=True needs a momentum"),
        (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "SGD: weight_decay"),
        (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "AdamW: weight_decay"),
        (lambda ps: optim.AdamW(ps, lr=0), "AdamW: lr must be positive"),
    ],
)
def test_optimizer_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make([Tensor(np.ones(2), requires_grad=True)])


# ----------------------------------------------------------------------------- schedulers


def _opt(lr=0.5):
    return optim.SGD([Tensor(np.ones(2), requires_grad=True)], lr=lr, momentum=0.9)


def test_step_lr_follows_its_formula():
    opt = _opt()
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    got = [sched.step() for _ in range(8)]
    assert got == [0.5 * 0.5 ** ((e + 1) // 3) for e in range(8)]
    assert opt.lr == got[-1]


def test_cosine_lr_follows_its_formula():
    opt = _opt()
    sched = optim.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)
    got = [sched.step() for _ in range(7)]
    expected = [0.1 + 0.4 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(1, 8)]
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert got[4] == pytest.approx(0.1)  # eta_min at T_max
    assert optim.cosine_lr(0.5, 0, 5) == 0.5


@pytest.mark.parametrize(
    "make",
    [
        lambda o: optim.StepLR(o, step_size=2, gamma=0.3),
        lambda o: optim.CosineAnnealingLR(o, T_max=6, eta_min=0.01),
    ],
)
def test_scheduler_state_dict_round_trip(make):
    opt = _opt()
    sched = make(opt)
    for _ in range(3):
        sched.step()
    state, lr_now = sched.state_dict(), opt.lr
    later = [sched.step() for _ in range(4)]
    opt2 = _opt(lr=9.0)
    again = make(opt2)
    again.load_state_dict(state)
    assert opt2.lr == lr_now  # loading sets the optimizer's lr for the epoch reached
    assert [again.step() for _ in range(4)] == later
    with pytest.raises(ValueError, match="state is for"):
        optim.StepLR(_opt(), 1).load_state_dict(optim.CosineAnnealingLR(_opt(), 2).state_dict())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda o: optim.StepLR(o, step_size=0), "StepLR: step_size"),
        (lambda o: optim.StepLR(o, step_size=2, gamma=0), "StepLR: gamma"),
        (lambda o: optim.CosineAnnealingLR(o, T_max=0), "CosineAnnealingLR: T_max"),
        (lambda o: optim.CosineAnnealingLR(o, T_max=3, eta_min=-1), "CosineAnnealingLR: eta_min"),
    ],
)
def test_scheduler_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make(_opt())
    with pytest.raises(TypeError, match="StepLR: expected an optimizer"):
        optim.StepLR(object(), 2)


class _CodeWriter:
    """The writer ``step_code`` expects from a code-generating ``compile``: names bound in
    a namespace, lines collected, then run with ``exec``."""

    def __init__(self, opt):
        from tinygrad_nn.hooks import VersionClock

        self.env = {"np": np, "the_opt": opt, "the_clock": VersionClock}
        self.opt, self.clock, self.lines = "the_opt", "the_clock", []

    def bind(self, value, hint):
        name = f"{hint}_{len(self.env)}"
        self.env[name] = value
        return name

    def line(self, text):
        self.lines.append(text)

    def state(self, array, hint):
        return self.bind(array, hint)

    def scratch(self, like):
        return self.bind(np.empty_like(self.env[like]), "tmp")


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_sgd_step_code_gives_the_same_bits_as_step(nesterov, wd):
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=4).astype(np.float32)]
    grads = [[rng.normal(size=v.shape).astype(np.float32) for v in values] for _ in range(3)]
    runs = []
    for generated in (False, True):
        ps = [Tensor(v.copy(), requires_grad=True, name=f"p{i}") for i, v in enumerate(values)]
        opt = optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=wd)
        for step_grads in grads:
            for p, g in zip(ps, step_grads):
                p.grad = g.copy()
            if not generated:
                opt.step()
                continue
            c = _CodeWriter(opt)
            names = [c.bind(p._data, "value") for p in ps]
            gnames = [c.bind(p.grad, "grad") for p in ps]
            tensors = [c.bind(p, f"p{i}_tensor") for i, p in enumerate(ps)]
            opt.step_code(c, names, gnames, tensors)
            exec("\n".join(c.lines), c.env)
        runs.append([p.data.copy() for p in ps])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.05),
        lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    ],
)
def test_compiled_steps_match_eager_bit_for_bit(make):
    import tinygrad_nn as tg
    from tinygrad_nn import nn, softmax_cross_entropy

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 5)).astype(np.float32), rng.integers(0, 3, 16)
    runs = []
    for compiled in (False, True):
        model = nn.MLP([5, 8, 3], "relu", rng=0)
        opt = make(model.parameters())

        def step(x, y, model=model, opt=opt):
            loss = softmax_cross_entropy(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        run = tg.compile(step) if compiled else step
        losses = [run(X, y).item() for _ in range(4)]
        runs.append((losses, model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for key in runs[0][1]:
        np.testing.assert_array_equal(runs[0][1][key], runs[1][1][key], err_msg=key)
