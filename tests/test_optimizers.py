"""Optimizers and learning-rate schedules: trajectories against torch.optim and
against hand-written Keras-3 formulas, clipping, dtypes, config and state."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.optimizers as optimizers
from chainrule.optimizers import schedules

SHAPES = [(4, 3), (3,)]
STEPS = 20
TOL = {np.float64: dict(rtol=1e-6, atol=1e-9), np.float32: dict(rtol=1e-5, atol=1e-6)}


def _problem(seed=0, steps=STEPS, dtype=np.float64):
    """Initial weights and a fixed sequence of gradients (of varied scale) for each weight."""
    rng = np.random.default_rng(seed)
    w0 = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.uniform(0.1, 3.0)).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return w0, grads


def _run_cr(opt, w0, grads):
    """Apply each step's gradients with ``opt``; return the weights after every step."""
    params = [cr.Tensor(w.copy(), requires_grad=True, dtype=w.dtype, name=f"w{i}") for i, w in enumerate(w0)]
    path = []
    for gs in grads:
        opt.apply(gs, params)
        path.append([p.data.copy() for p in params])
    return path


def _run_torch(make_opt, w0, grads, make_sched=None):
    torch = pytest.importorskip("torch")
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in w0]
    opt = make_opt(params)
    sched = make_sched(opt) if make_sched else None
    path = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
        if sched is not None:
            sched.step()
        path.append([p.detach().numpy().copy() for p in params])
    return path


def _assert_paths(a, b, dtype):
    for step, (wa, wb) in enumerate(zip(a, b)):
        for x, y in zip(wa, wb):
            np.testing.assert_allclose(x, y, err_msg=f"step {step}", **TOL[dtype])


# ---------------------------------------------------------------------- against torch.optim

TORCH_CASES = {
    "sgd": (lambda: optimizers.SGD(0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    "sgd_momentum": (lambda: optimizers.SGD(0.05, momentum=0.9),
                     lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd_nesterov": (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                     lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    # Keras puts epsilon inside the sqrt, PyTorch outside: make it negligible in both.
    "adagrad_acc0": (lambda: optimizers.Adagrad(0.1, initial_accumulator_value=0.0, epsilon=1e-20),
                     lambda t, p: t.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.0, eps=1e-10)),
    "adagrad_acc0.1": (lambda: optimizers.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=1e-20),
                       lambda t, p: t.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-10)),
    "rmsprop": (lambda: optimizers.RMSprop(0.01, rho=0.9, epsilon=1e-20),
                lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-10)),
    "rmsprop_centered": (lambda: optimizers.RMSprop(0.01, rho=0.9, epsilon=1e-20, centered=True),
                         lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-10, centered=True)),
    "rmsprop_momentum": (lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.7, epsilon=1e-20),
                         lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.8, momentum=0.7, eps=1e-10)),
    "rmsprop_centered_momentum": (
        lambda: optimizers.RMSprop(0.01, rho=0.9, momentum=0.5, epsilon=1e-20, centered=True),
        lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, eps=1e-10, centered=True)),
    # Adam's epsilon placement differs (see Adam's docstring): negligible at 1e-12.
    "adam": (lambda: optimizers.Adam(0.01, epsilon=1e-12), lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-12)),
    "adam_betas": (lambda: optimizers.Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-12),
                   lambda t, p: t.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-12)),
    "adam_amsgrad": (lambda: optimizers.Adam(0.01, epsilon=1e-12, amsgrad=True),
                     lambda t, p: t.optim.Adam(p, lr=0.01, eps=1e-12, amsgrad=True)),
    "adamw": (lambda: optimizers.AdamW(0.01, weight_decay=0.1, epsilon=1e-12),
              lambda t, p: t.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-12)),
    "adamw_amsgrad": (lambda: optimizers.AdamW(0.01, weight_decay=0.05, epsilon=1e-12, amsgrad=True),
                      lambda t, p: t.optim.AdamW(p, lr=0.01, weight_decay=0.05, eps=1e-12, amsgrad=True)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_trajectory_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    make_cr, make_torch = TORCH_CASES[case]
    w0, grads = _problem(seed=sorted(TORCH_CASES).index(case), dtype=dtype)
    ours = _run_cr(make_cr(), w0, grads)
    theirs = _run_torch(lambda p: make_torch(torch, p), w0, grads)
    assert all(w.dtype == dtype for step in ours for w in step)
    _assert_paths(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sgd_with_exponential_decay_matches_torch_exponential_lr(dtype):
    torch = pytest.importorskip("torch")
    w0, grads = _problem(seed=3, dtype=dtype)
    sched = schedules.ExponentialDecay(0.2, decay_steps=1, decay_rate=0.9)
    ours = _run_cr(optimizers.SGD(sched), w0, grads)
    theirs = _run_torch(lambda p: torch.optim.SGD(p, lr=0.2), w0, grads,
                        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9))
    _assert_paths(ours, theirs, dtype)


def test_adam_with_cosine_decay_matches_torch_cosine_annealing():
    torch = pytest.importorskip("torch")
    w0, grads = _problem(seed=4)
    sched = schedules.CosineDecay(0.05, decay_steps=STEPS, alpha=0.1)
    ours = _run_cr(optimizers.Adam(sched, epsilon=1e-12), w0, grads)
    theirs = _run_torch(lambda p: torch.optim.Adam(p, lr=0.05, eps=1e-12), w0, grads,
                        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.005))
    _assert_paths(ours, theirs, np.float64)


# ---------------------------------------------------------------------- against Keras 3's formulas

def _keras_reference(kind, w0, grads, lr, **hp):
    """The Keras 3 update rules written out literally, in float64."""
    ws = [w.astype(np.float64).copy() for w in w0]
    state = [dict() for _ in ws]
    path = []
    for t, gs in enumerate(grads, start=1):
        for w, g, s in zip(ws, gs, state):
            if hp.get("weight_decay"):
                w -= w * hp["weight_decay"] * lr
            if kind == "sgd":
                m = hp["momentum"]
                v = s["v"] = m * s.get("v", 0.0) - lr * g
                w += (m * v - lr * g) if hp["nesterov"] else v
            elif kind == "adagrad":
                a = s["a"] = s.get("a", hp["initial_accumulator_value"]) + g * g
                w -= lr * g / np.sqrt(a + hp["epsilon"])
            elif kind == "rmsprop":
                rho = hp["rho"]
                v = s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
                if hp["centered"]:
                    mg = s["mg"] = rho * s.get("mg", 0.0) + (1 - rho) * g
                    inc = lr * g / np.sqrt(v - mg * mg + hp["epsilon"])
                else:
                    inc = lr * g / np.sqrt(v + hp["epsilon"])
                if hp["momentum"] > 0:
                    b = s["b"] = hp["momentum"] * s.get("b", 0.0) + inc
                    w -= b
                else:
                    w -= inc
            elif kind == "adam":
                b1, b2 = hp["beta_1"], hp["beta_2"]
                alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                m = s.get("m", np.zeros_like(w))
                v = s.get("v", np.zeros_like(w))
                m = s["m"] = m + (g - m) * (1 - b1)
                v = s["v"] = v + (g * g - v) * (1 - b2)
                if hp.get("amsgrad"):
                    v = s["vh"] = np.maximum(s.get("vh", 0.0), v)
                w -= m * alpha / (np.sqrt(v) + hp["epsilon"])
        path.append([w.copy() for w in ws])
    return path


KERAS_CASES = {
    "sgd_nesterov": (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                     ("sgd", 0.05, dict(momentum=0.9, nesterov=True))),
    "sgd_decay": (lambda: optimizers.SGD(0.05, momentum=0.5, weight_decay=0.1),
                  ("sgd", 0.05, dict(momentum=0.5, nesterov=False, weight_decay=0.1))),
    "adagrad_defaults": (lambda: optimizers.Adagrad(0.1),
                         ("adagrad", 0.1, dict(initial_accumulator_value=0.1, epsilon=1e-7))),
    "rmsprop_defaults": (lambda: optimizers.RMSprop(0.01),
                         ("rmsprop", 0.01, dict(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False))),
    "rmsprop_centered_momentum": (
        lambda: optimizers.RMSprop(0.01, momentum=0.9, centered=True),
        ("rmsprop", 0.01, dict(rho=0.9, momentum=0.9, epsilon=1e-7, centered=True))),
    "adam_defaults": (lambda: optimizers.Adam(0.01),
                      ("adam", 0.01, dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7))),
    "adam_decay_amsgrad": (lambda: optimizers.Adam(0.01, weight_decay=0.02, amsgrad=True),
                           ("adam", 0.01, dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.02,
                                               amsgrad=True))),
    "adamw_defaults": (lambda: optimizers.AdamW(0.01),
                       ("adam", 0.01, dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.004))),
}


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_trajectory_matches_keras_formula(case):
    make_cr, (kind, lr, hp) = KERAS_CASES[case]
    w0, grads = _problem(seed=7)
    # Tiny gradients make epsilon matter, so its placement is tested too.
    grads = [[g * 1e-4 for g in gs] for gs in grads]
    ours = _run_cr(make_cr(), w0, grads)
    ref = _keras_reference(kind, w0, grads, lr, **hp)
    for step, (a, b) in enumerate(zip(ours, ref)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")


def test_adam_epsilon_placement_differs_from_torch_default_form():
    """With tiny gradients Keras's epsilon-hat Adam and PyTorch's Adam part ways, as documented."""
    torch = pytest.importorskip("torch")
    w0, grads = _problem(seed=8, steps=3)
    grads = [[g * 1e-7 for g in gs] for gs in grads]
    ours = _run_cr(optimizers.Adam(0.01, epsilon=1e-7), w0, grads)
    theirs = _run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7), w0, grads)
    assert not np.allclose(ours[0][0], theirs[0][0], rtol=1e-6, atol=0)
    # ... and agree once PyTorch's eps is rescaled to eps / sqrt(1 - beta_2^t) at step t = 1.
    theirs = _run_torch(lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7 / math.sqrt(1 - 0.999)), w0, grads[:1])
    np.testing.assert_allclose(ours[0][0], theirs[0][0], rtol=1e-10)


# ---------------------------------------------------------------------- clipping

def _clip_case(**clip):
    rng = np.random.default_rng(11)
    w0 = [rng.standard_normal(s) for s in SHAPES]
    grads = [np.full(SHAPES[0], 2.0), np.array([0.1, -0.2, 0.05])]  # norms sqrt(48) and ~0.23
    originals = [g.copy() for g in grads]
    params = [cr.Tensor(w.copy(), dtype=w.dtype) for w in w0]
    optimizers.SGD(1.0, **clip).apply(grads, params)
    for g, o in zip(grads, originals):
        np.testing.assert_array_equal(g, o)  # the caller's gradients are never modified
    return w0, grads, [w0[i] - params[i].data for i in range(2)]  # the step actually taken


def test_clipnorm_rescales_each_gradient():
    w0, grads, taken = _clip_case(clipnorm=1.0)
    for g, step in zip(grads, taken):
        expected = g * 1.0 / max(np.linalg.norm(g), 1.0)
        np.testing.assert_allclose(step, expected, rtol=1e-12)
    assert np.isclose(np.linalg.norm(taken[0]), 1.0)
    np.testing.assert_allclose(taken[1], grads[1], rtol=1e-12)  # under the limit: unchanged


def test_global_clipnorm_rescales_all_gradients_together():
    w0, grads, taken = _clip_case(global_clipnorm=2.0)
    total = math.sqrt(sum(np.sum(g * g) for g in grads))
    for g, step in zip(grads, taken):
        np.testing.assert_allclose(step, g * 2.0 / max(total, 2.0), rtol=1e-12)
    assert np.isclose(math.sqrt(sum(np.sum(s * s) for s in taken)), 2.0)


def test_clipvalue_clips_elementwise():
    w0, grads, taken = _clip_case(clipvalue=0.15)
    for g, step in zip(grads, taken):
        np.testing.assert_allclose(step, np.clip(g, -0.15, 0.15), rtol=1e-12)


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="only one"):
        optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.Adam(clipnorm=-1.0)


# ---------------------------------------------------------------------- dtypes and mechanics

@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_float32_variables_stay_float32_in_place(name):
    opt = optimizers.get(name)
    if hasattr(opt, "momentum"):
        opt.momentum = 0.5
    opt.weight_decay = np.float64(0.01)  # a NumPy float64 hyperparameter must not upcast either
    opt.learning_rate = 0.01
    w = cr.Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    data = w.data
    for _ in range(3):
        opt.apply([np.full((3, 2), 0.5, np.float64)], [w])  # a float64 gradient, too
    assert w.data is data and w.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.variables)
    assert not np.allclose(w.data, 1.0)
    assert opt.iterations == 3


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_scalar_variables_and_numpy_hyperparameters(name):
    opt = optimizers.get(name)
    opt.learning_rate = np.float32(0.1)
    if hasattr(opt, "momentum"):
        opt.momentum = np.float32(0.9)
    w = cr.Tensor(np.float32(1.0), requires_grad=True)
    for _ in range(2):
        opt.apply([cr.Tensor(np.float32(0.5))], [w])
    assert w.data.shape == () and w.data.dtype == np.float32 and w.data < 1.0


def test_none_gradients_are_skipped():
    a, b = cr.Tensor(np.ones(2), dtype=np.float64), cr.Tensor(np.ones(3), dtype=np.float64)
    opt = optimizers.Adam(0.1)
    opt.apply([None, np.ones(3)], [a, b])
    np.testing.assert_array_equal(a.data, np.ones(2))
    assert not np.allclose(b.data, 1.0)
    assert opt.iterations == 1
    state = opt.get_state()
    assert list(state) == ["iterations", "learning_rate", "0/momentum", "0/velocity", "1/momentum", "1/velocity"]
    assert not state["0/momentum"].any() and state["1/momentum"].any()  # numbered in the order passed
    with pytest.raises(ValueError, match="every gradient is None"):
        opt.apply([None], [a])


def test_apply_gradients_and_autograd_loop():
    w = cr.Tensor(np.array([3.0, -2.0]), requires_grad=True, dtype=np.float64)
    opt = optimizers.SGD(0.1, momentum=0.9)
    for _ in range(200):
        w.grad = None
        ((w * w).sum()).backward()
        assert opt.apply_gradients(zip([w.grad], [w])) == opt.iterations
    assert np.abs(w.data).max() < 1e-3
    opt.apply([np.zeros(2)])  # the variables seen before are used when none are given


def test_plain_ndarray_variables_are_updated_in_place():
    w = np.ones(4)
    optimizers.SGD(0.5).apply([np.ones(4)], [w])
    np.testing.assert_array_equal(w, np.full(4, 0.5))


def test_bad_input_is_reported():
    w = cr.Tensor(np.ones((2, 3)), dtype=np.float64, name="kernel")
    with pytest.raises(ValueError, match=r"\(3, 2\).*'kernel'.*\(2, 3\)"):
        optimizers.SGD().apply([np.ones((3, 2))], [w])
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        optimizers.SGD().apply([np.ones((2, 3)), None], [w])
    with pytest.raises(TypeError, match="floating"):
        optimizers.SGD().apply([np.ones(2)], [np.ones(2, dtype=np.int64)])
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.Adam(learning_rate=-1.0)


def test_exclude_from_weight_decay():
    k = cr.Tensor(np.ones(3), dtype=np.float64, name="dense/kernel")
    b = cr.Tensor(np.ones(3), dtype=np.float64, name="dense/bias")
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([np.zeros(3), np.zeros(3)], [k, b])
    np.testing.assert_allclose(k.data, 1 - 0.1 * 0.5)
    np.testing.assert_array_equal(b.data, 1.0)


# ---------------------------------------------------------------------- learning rate, get, config, state

def test_learning_rate_property_follows_schedule_and_is_settable():
    opt = optimizers.SGD(schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5))
    w = cr.Tensor(np.zeros(1), dtype=np.float64)
    seen = []
    for _ in range(3):
        seen.append(opt.learning_rate)
        opt.apply([np.ones(1)], [w])
    assert seen == [1.0, 0.5, 0.25]
    np.testing.assert_allclose(w.data, [-1.75])
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01 and isinstance(opt.learning_rate, float)
    opt.learning_rate = lambda: 0.003
    assert opt.learning_rate == 0.003


def test_get():
    for name, cls in [("sgd", optimizers.SGD), ("Adam", optimizers.Adam), ("ADAMW", optimizers.AdamW),
                      ("rmsprop", optimizers.RMSprop), ("adagrad", optimizers.Adagrad)]:
        opt = optimizers.get(name)
        assert type(opt) is cls
    adam = optimizers.Adam(0.5)
    assert optimizers.get(adam) is adam
    again = optimizers.get(optimizers.serialize(adam))
    assert type(again) is optimizers.Adam and again.learning_rate == 0.5
    with pytest.raises(ValueError) as info:
        optimizers.get("adamax")
    for known in ("sgd", "adagrad", "rmsprop", "adam", "adamw"):
        assert known in str(info.value)
    with pytest.raises(TypeError):
        optimizers.get(3)


def test_defaults_are_keras_3():
    assert optimizers.SGD().get_config()["learning_rate"] == 0.01
    ada = optimizers.Adagrad().get_config()
    assert (ada["learning_rate"], ada["initial_accumulator_value"], ada["epsilon"]) == (0.001, 0.1, 1e-7)
    rms = optimizers.RMSprop().get_config()
    assert (rms["rho"], rms["momentum"], rms["epsilon"], rms["centered"]) == (0.9, 0.0, 1e-7, False)
    adam = optimizers.Adam().get_config()
    assert (adam["beta_1"], adam["beta_2"], adam["epsilon"], adam["amsgrad"]) == (0.9, 0.999, 1e-7, False)
    assert optimizers.AdamW().weight_decay == 0.004


@pytest.mark.parametrize("opt", [
    optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=1.0),
    optimizers.Adagrad(0.2, initial_accumulator_value=0.0, epsilon=1e-6, weight_decay=0.1),
    optimizers.RMSprop(0.01, rho=0.8, momentum=0.3, centered=True, global_clipnorm=2.0),
    optimizers.Adam(schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=10), amsgrad=True),
    optimizers.AdamW(0.003, weight_decay=0.02, clipvalue=0.5, name="my_adamw"),
], ids=lambda o: type(o).__name__)
def test_config_round_trip(opt):
    config = opt.get_config()
    again = type(opt).from_config(config)
    assert again.get_config() == config
    assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == config


@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: optimizers.Adagrad(0.1),
    lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    lambda: optimizers.Adam(0.01, amsgrad=True),
    lambda: optimizers.AdamW(schedules.ExponentialDecay(0.01, 5, 0.5)),
])
@pytest.mark.parametrize("build_first", [False, True], ids=["lazy", "built"])
def test_state_round_trip_continues_the_same_trajectory(make, build_first):
    w0, grads = _problem(seed=5)
    opt = make()
    params = [cr.Tensor(w.copy(), dtype=w.dtype) for w in w0]
    for gs in grads[:10]:
        opt.apply(gs, params)
    state = opt.get_state()
    midpoint = [p.data.copy() for p in params]
    for gs in grads[10:]:
        opt.apply(gs, params)

    fresh = type(opt).from_config(opt.get_config())
    resumed = [cr.Tensor(w.copy(), dtype=w.dtype) for w in midpoint]
    if build_first:
        fresh.build(resumed)
    fresh.set_state(state)
    assert fresh.iterations == 10
    for gs in grads[10:]:
        fresh.apply(gs, resumed)
    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_set_state_rejects_foreign_state():
    adam = optimizers.Adam()
    adam.apply([np.ones(2)], [cr.Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="unexpected entry '0/momentum'"):
        optimizers.Adagrad().set_state(adam.get_state())
    bad = adam.get_state()
    bad["0/velocity"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        adam.set_state(bad)


# ---------------------------------------------------------------------- schedules

def test_exponential_and_inverse_time_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5)
    st = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True)
    inv = schedules.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5)
    for step in range(12):
        assert math.isclose(s(step), 0.1 * 0.5 ** (step / 4))
        assert math.isclose(st(step), 0.1 * 0.5 ** (step // 4))
        assert math.isclose(inv(step), 0.1 / (1 + 0.5 * step / 2))


def test_piecewise_constant_and_polynomial_decay():
    pc = schedules.PiecewiseConstantDecay([3, 6], [1.0, 0.5, 0.1])
    assert [pc(s) for s in range(9)] == [1.0] * 4 + [0.5] * 3 + [0.1] * 2
    with pytest.raises(ValueError, match="one more value"):
        schedules.PiecewiseConstantDecay([3], [1.0])
    poly = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0)
    for step in range(15):
        p = min(step, 10) / 10
        assert math.isclose(poly(step), (0.1 - 0.01) * (1 - p) ** 2 + 0.01)


def test_cosine_decay_and_warmup():
    cd = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.2)
    for step in range(15):
        s = min(step, 10)
        assert math.isclose(cd(step), 0.1 * (0.8 * 0.5 * (1 + math.cos(math.pi * s / 10)) + 0.2))
    wc = schedules.CosineDecay(0.01, decay_steps=10, warmup_target=0.1, warmup_steps=5)
    for step in range(20):
        if step < 5:
            expected = 0.01 + (0.1 - 0.01) * step / 5
        else:
            s = min(step, 15) - 5
            expected = 0.1 * 0.5 * (1 + math.cos(math.pi * s / 10))
        assert math.isclose(wc(step), expected, abs_tol=1e-15)
    # LinearWarmup in front of a cosine decay is Keras's CosineDecay with warmup.
    lw = schedules.warmup(schedules.CosineDecay(0.1, decay_steps=10), warmup_steps=5)
    ref = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)
    assert all(math.isclose(lw(s), ref(s), abs_tol=1e-15) for s in range(20))
    const = schedules.LinearWarmup(0.3, warmup_steps=4, initial_learning_rate=0.1)
    assert [round(const(s), 12) for s in range(6)] == [0.1, 0.15, 0.2, 0.25, 0.3, 0.3]


def test_schedules_match_torch_lr_schedulers():
    torch = pytest.importorskip("torch")
    sched = torch.optim.lr_scheduler
    cases = [
        (schedules.ExponentialDecay(0.1, 1, 0.9), lambda o: sched.ExponentialLR(o, gamma=0.9)),
        (schedules.ExponentialDecay(0.1, 3, 0.5, staircase=True), lambda o: sched.StepLR(o, step_size=3, gamma=0.5)),
        (schedules.CosineDecay(0.1, 12, alpha=0.1), lambda o: sched.CosineAnnealingLR(o, T_max=12, eta_min=0.01)),
        (schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.01, 0.001]),
         lambda o: sched.MultiStepLR(o, milestones=[4, 8], gamma=0.1)),
    ]
    for ours, make in cases:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        theirs = make(opt)
        for step in range(13):
            assert math.isclose(ours(step), opt.param_groups[0]["lr"], rel_tol=1e-9), (ours, step)
            opt.step()
            theirs.step()


def test_schedule_serialization():
    for s in [schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True), schedules.InverseTimeDecay(0.1, 2, 0.5),
              schedules.PolynomialDecay(0.1, 10), schedules.PiecewiseConstantDecay([2], [0.1, 0.01]),
              schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=3),
              schedules.warmup(schedules.ExponentialDecay(0.1, 10, 0.9), 4)]:
        again = schedules.deserialize(schedules.serialize(s))
        assert type(again) is type(s) and again.get_config() == s.get_config()
        assert [again(i) for i in range(15)] == [s(i) for i in range(15)]
    with pytest.raises(ValueError, match="known"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_exposed_as_cr_optimizers():
    assert cr.optimizers is optimizers and cr.optimizers.schedules is schedules


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd_momentum", "rmsprop", "adagrad"])
def test_slots_stalled_in_the_subnormal_range_are_flushed_to_zero(name):
    """A weight whose gradient is 0 lets its momentum decay into the subnormal floats, where rounding
    stalls it above 0 (slow arithmetic on many CPUs); every FLUSH_EVERY steps such values become 0."""
    from chainrule.optimizers import base

    make = {"adam": lambda: optimizers.Adam(), "adamw": lambda: optimizers.AdamW(),
            "sgd_momentum": lambda: optimizers.SGD(0.01, momentum=0.9), "rmsprop": lambda: optimizers.RMSprop(),
            "adagrad": lambda: optimizers.Adagrad()}[name]
    opt = make()
    w = cr.Tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    opt.build([w])
    tiny = np.finfo(np.float32).tiny
    slots = opt._slots[0]
    for a in slots.values():
        a[...] = np.float32(3e-45)             # a few of the smallest subnormals
        a[0, 0] = np.float32(2e-30)            # a normal value, left as the update makes it
    zero = np.zeros((3, 4), dtype=np.float32)
    for _ in range(base.FLUSH_EVERY - 1):
        opt.apply([zero], [w])
    assert any(((a != 0) & (np.abs(a) < tiny)).any() for a in slots.values())   # stalled, not yet flushed
    opt.apply([zero], [w])
    for key, a in slots.items():
        sub = (a != 0) & (np.abs(a) < tiny)
        assert not sub.any(), f"{name} slot {key} kept {int(sub.sum())} subnormal values"
    assert any(a[0, 0] != 0 for a in slots.values())                            # normal values untouched
