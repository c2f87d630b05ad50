"""The workloads: the same model, data shapes and step in chainrule and in PyTorch.

Each model is built twice, once per library, in each library's natural form:

* chainrule: ``cr.Sequential([...])`` of Keras layers, channels-last images
  (``(batch, 28, 28, 1)``), a softmax output layer and the Keras loss
  ``sparse_categorical_crossentropy`` on its probabilities (which chainrule, like Keras,
  computes from the logits under the softmax).
* PyTorch: ``nn.Sequential`` of the same layers, channels-first images
  (``(batch, 1, 28, 28)``), logits out and ``F.cross_entropy`` (its fast path).

A training step is forward + loss + backward + optimizer update. chainrule's is timed
two ways: the custom loop of the docs (``cr.grad`` + ``optimizer.apply``) and
``model.fit`` (the compiled loop users run, timed over a few batches a call). Inference
is one forward pass without a graph (``cr.no_grad()`` / ``torch.no_grad()``), softmax
included on both sides. Weights start from each library's own initializers; for speed
that does not matter.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


class Skip(Exception):
    """A workload that cannot run here (a layer not written yet, PyTorch missing, ...)."""


@dataclass
class Variant:
    label: str                 # "chainrule", "chainrule fit", "pytorch"
    lib: str                   # "chainrule" or "pytorch"
    fn: Callable[[], object]   # one call; does ``steps_per_call`` steps
    steps_per_call: int = 1


@dataclass
class Row:
    label: str                 # how the row is named in the table
    chainrule: str             # the Variant labels it compares
    pytorch: str
    target: float | None = None


@dataclass
class Workload:
    name: str
    kind: str                  # "train", "infer" or "engine"
    description: str
    variants: list
    rows: list
    flops_per_step: float | None = None   # float32 multiply-adds x 2 in the GEMMs/convolutions
    notes: list = field(default_factory=list)


# ----------------------------------------------------------------------------- FLOP counts
def dense_flops(batch: int, n_in: int, n_out: int) -> float:
    return 2.0 * batch * n_in * n_out


def conv_flops(batch: int, out_hw: tuple, k: int, c_in: int, c_out: int) -> float:
    return 2.0 * batch * out_hw[0] * out_hw[1] * k * k * c_in * c_out


def train_flops(layer_flops: list) -> float:
    """Forward, weight gradients (as many FLOPs as the forward) and input gradients
    (the same again, except for the first layer, whose input needs none)."""
    fwd = sum(layer_flops)
    return fwd + fwd + (fwd - layer_flops[0])


# ----------------------------------------------------------------------------- the models
@dataclass
class ModelSpec:
    name: str
    description: str
    cr_layers: Callable        # (cr) -> list of layers, Input first
    torch_layers: Callable     # (nn) -> nn.Sequential producing logits
    cr_input: tuple            # per-sample shape in chainrule
    torch_input: tuple         # per-sample shape in PyTorch
    optimizer: str             # "adam" or "rmsprop", the same on both sides
    layer_flops: Callable      # (batch) -> list of forward FLOPs per GEMM layer
    train_target: float | None
    needs: tuple = ()          # chainrule layer names the model needs
    infer_target: float | None = None


def _mnist_mlp_cr(cr):
    L = cr.layers
    return [L.Input(shape=(784,)), L.Dense(512, activation="relu"), L.Dropout(0.2),
            L.Dense(512, activation="relu"), L.Dropout(0.2), L.Dense(10, activation="softmax")]


def _mnist_mlp_torch(nn):
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))


def _text_mlp_cr(cr):
    L = cr.layers
    return [L.Input(shape=(784,)), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")]


def _text_mlp_torch(nn):
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def _text_cnn_cr(cr):
    L = cr.layers
    return [L.Input(shape=(28, 28, 1)),
            L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")]


def _text_cnn_torch(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(5 * 5 * 64, 64), nn.ReLU(), nn.Linear(64, 10))


def _mnist_cnn_cr(cr):
    L = cr.layers
    return [L.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"), L.Conv2D(64, (3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)), L.Dropout(0.25), L.Flatten(),
            L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")]


def _mnist_cnn_torch(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                         nn.Linear(12 * 12 * 64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


MODELS = [
    ModelSpec("mnist_mlp", "Keras mnist_mlp: Dense 784-512-512-10, relu, dropout 0.2, softmax; RMSprop",
              _mnist_mlp_cr, _mnist_mlp_torch, (784,), (784,), "rmsprop",
              lambda b: [dense_flops(b, 784, 512), dense_flops(b, 512, 512), dense_flops(b, 512, 10)],
              1.25, ("Input", "Dense", "Dropout")),
    ModelSpec("text_mlp", "the texts' MLP: Dense 784-128-10, relu, softmax; Adam",
              _text_mlp_cr, _text_mlp_torch, (784,), (784,), "adam",
              lambda b: [dense_flops(b, 784, 128), dense_flops(b, 128, 10)],
              None, ("Input", "Dense")),
    ModelSpec("text_cnn", "the texts' CNN: conv32 3x3 relu, maxpool 2, conv64 3x3 relu, maxpool 2, "
              "dense 64 relu, dense 10 softmax; Adam",
              _text_cnn_cr, _text_cnn_torch, (28, 28, 1), (1, 28, 28), "adam",
              lambda b: [conv_flops(b, (26, 26), 3, 1, 32), conv_flops(b, (11, 11), 3, 32, 64),
                         dense_flops(b, 1600, 64), dense_flops(b, 64, 10)],
              1.5, ("Input", "Conv2D", "MaxPooling2D", "Flatten", "Dense"), infer_target=1.5),
    ModelSpec("mnist_cnn", "Keras mnist_cnn: conv32 3x3, conv64 3x3, maxpool 2, dropout 0.25, "
              "dense 128, dropout 0.5, dense 10 softmax; Adam",
              _mnist_cnn_cr, _mnist_cnn_torch, (28, 28, 1), (1, 28, 28), "adam",
              lambda b: [conv_flops(b, (26, 26), 3, 1, 32), conv_flops(b, (24, 24), 3, 32, 64),
                         dense_flops(b, 9216, 128), dense_flops(b, 128, 10)],
              1.5, ("Input", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense"), infer_target=1.5),
]


def _chainrule():
    """chainrule's public pieces; Skip if the models or layers are not there yet."""
    try:
        cr = importlib.import_module("chainrule")
        for sub in ("layers", "losses", "optimizers", "models"):
            if not hasattr(cr, sub):
                setattr(cr, sub, importlib.import_module(f"chainrule.{sub}"))
        if not hasattr(cr, "Sequential"):
            cr.Sequential = cr.models.Sequential
    except (ImportError, AttributeError) as e:
        raise Skip(f"chainrule's models/layers are not importable yet ({e})") from None
    return cr


def _check_layers(cr, names):
    missing = [n for n in names if not hasattr(cr.layers, n)]
    if missing:
        raise Skip(f"chainrule.layers has no {', '.join(missing)} yet")


def model_workloads(spec: ModelSpec, torch, batch: int, fit_batches: int, seed: int = 0) -> list:
    """The training and the inference workload of one model."""
    cr = _chainrule()
    _check_layers(cr, spec.needs)
    import torch.nn.functional as tF
    from torch import nn

    rng = np.random.default_rng(seed)
    cr.manual_seed(seed)
    torch.manual_seed(seed)
    x = rng.random((batch, *spec.cr_input), dtype=np.float32)
    y = rng.integers(0, 10, size=batch).astype(np.int64)
    # The same numbers in PyTorch's layout (NHWC -> NCHW for images).
    x_th = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x.copy())
    y_th = torch.from_numpy(y.copy())
    xt, yt = cr.tensor(x), cr.tensor(y)

    # ---- chainrule: custom training loop
    model = cr.Sequential(spec.cr_layers(cr))
    loss_fn = cr.losses.get("sparse_categorical_crossentropy")
    opt = cr.optimizers.RMSprop() if spec.optimizer == "rmsprop" else cr.optimizers.Adam()

    def cr_train():
        y_pred = model(xt, training=True)
        loss = loss_fn(yt, y_pred)
        weights = model.trainable_weights
        grads = cr.grad(loss, weights)
        opt.apply(grads, weights)
        return loss

    def cr_infer():
        with cr.no_grad():
            return model(xt, training=False)

    # ---- chainrule: model.fit, the compiled loop (a second model, so the optimizers' states stay apart)
    fit_model = cr.Sequential(spec.cr_layers(cr))
    fit_model.compile(optimizer=spec.optimizer, loss="sparse_categorical_crossentropy")
    x_fit = np.concatenate([x] * fit_batches)
    y_fit = np.concatenate([y] * fit_batches)

    def cr_fit():
        fit_model.fit(x_fit, y_fit, batch_size=batch, epochs=1, verbose=0, shuffle=False)

    # ---- PyTorch
    tmodel = spec.torch_layers(nn)
    topt = torch.optim.RMSprop(tmodel.parameters(), lr=1e-3) if spec.optimizer == "rmsprop" \
        else torch.optim.Adam(tmodel.parameters(), lr=1e-3)

    def th_train():
        tmodel.train()
        topt.zero_grad(set_to_none=True)
        loss = tF.cross_entropy(tmodel(x_th), y_th)
        loss.backward()
        topt.step()
        return loss

    def th_infer():
        tmodel.eval()
        with torch.no_grad():
            return torch.softmax(tmodel(x_th), dim=-1)

    flops = spec.layer_flops(batch)
    layout = ["images: chainrule NHWC (channels_last, Keras's default), PyTorch NCHW (its default)"] \
        if len(spec.cr_input) == 3 else []
    train_variants = [Variant("chainrule", "chainrule", cr_train),
                      Variant("chainrule fit", "chainrule", cr_fit, steps_per_call=fit_batches),
                      Variant("pytorch", "pytorch", th_train)]
    train_rows = [Row("train", "chainrule", "pytorch", spec.train_target),
                  Row("train (fit)", "chainrule fit", "pytorch", spec.train_target)]
    infer_variants = [Variant("chainrule", "chainrule", cr_infer), Variant("pytorch", "pytorch", th_infer)]
    infer_rows = [Row("infer", "chainrule", "pytorch", spec.infer_target)]
    keras = keras_variants(spec, x, y, batch, fit_batches)
    if keras is not None:
        keras_fit, keras_infer = keras
        train_variants.append(keras_fit)
        train_rows.append(Row("fit vs keras", "chainrule fit", "keras fit", None))
        infer_variants.append(keras_infer)
        infer_rows.append(Row("infer vs keras", "chainrule", "keras", None))
    train = Workload(
        name=spec.name, kind="train", description=spec.description + f"; batch {batch}",
        variants=train_variants, rows=train_rows, flops_per_step=train_flops(flops), notes=layout)
    infer = Workload(
        name=spec.name, kind="infer", description=spec.description + f"; batch {batch}, forward only",
        variants=infer_variants, rows=infer_rows, flops_per_step=sum(flops), notes=layout)
    return [train, infer]


def keras_variants(spec: ModelSpec, x, y, batch: int, fit_batches: int):
    """Keras 3 running the same model (``fit`` and a forward pass), or None when keras is not installed.

    The layers are chainrule's list built with Keras's own classes (the names and arguments
    are the same), channels_last like chainrule, on Keras's backend (torch unless
    ``KERAS_BACKEND`` says otherwise; set before keras is imported).
    """
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        keras = importlib.import_module("keras")
    except ImportError:
        return None

    class _KerasAsChainrule:       # spec.cr_layers(cr) reads cr.layers.<Name>
        layers = keras.layers

    keras.utils.set_random_seed(0)
    model = keras.Sequential(spec.cr_layers(_KerasAsChainrule))
    model.compile(optimizer=spec.optimizer, loss="sparse_categorical_crossentropy")
    x_fit = np.concatenate([x] * fit_batches)
    y_fit = np.concatenate([y] * fit_batches)

    def keras_fit():
        model.fit(x_fit, y_fit, batch_size=batch, epochs=1, verbose=0, shuffle=False)

    def keras_infer():
        return model(x, training=False)

    return (Variant("keras fit", "keras", keras_fit, steps_per_call=fit_batches),
            Variant("keras", "keras", keras_infer))


# ----------------------------------------------------------------------------- engine overhead
def _own_chain(lib_tanh, x, w, b, n_ops: int):
    h = x
    for _ in range(n_ops // 4):
        h = lib_tanh(h * w + b) * 0.9
    return h.sum()


def engine_workload(torch, n_ops: int = 1000, size: int = 16, seed: int = 0) -> Workload:
    """A chain of ``n_ops`` small elementwise ops on (size, size) tensors, forward + backward.

    The chain is ``benchmarks/engine_overhead.py``'s (imported when it is there), so the two
    report the same thing: the per-op bookkeeping of each library's eager autograd.
    """
    cr = importlib.import_module("chainrule")
    try:
        from .engine_overhead import chain
        source = "benchmarks/engine_overhead.py"
    except ImportError:
        chain, source = _own_chain, "benchmarks/workloads.py"
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal((size, size)).astype(np.float32) * s for s in (1.0, 0.5, 0.1)]

    def cr_step():
        x, w, b = (cr.tensor(a, requires_grad=True) for a in arrs)
        chain(cr.tanh, x, w, b, n_ops).backward()
        return w.grad

    def th_step():
        x, w, b = (torch.tensor(a, requires_grad=True) for a in arrs)
        chain(torch.tanh, x, w, b, n_ops).backward()
        return w.grad

    # Same math, so the same gradients: a benchmark of a wrong computation is worthless.
    np.testing.assert_allclose(cr_step().numpy(), th_step().numpy(), rtol=1e-3, atol=1e-4)
    return Workload(
        name="engine_overhead", kind="engine",
        description=f"chain of {n_ops} elementwise ops (x*w+b, tanh, *0.9) on ({size},{size}) float32, "
                    f"forward + backward; chain from {source}",
        variants=[Variant("chainrule", "chainrule", cr_step), Variant("pytorch", "pytorch", th_step)],
        rows=[Row("fwd+bwd", "chainrule", "pytorch", 3.0)],
        notes=[f"per op: divide ms/step by {n_ops}"])


# ----------------------------------------------------------------------------- one convolution
#: (name, input H=W, in channels, filters): the two convolutions of the texts' CNN, 3x3, stride 1, valid.
CONV_SHAPES = [("conv2d_1x32", 28, 1, 32), ("conv2d_32x64", 13, 32, 64)]
#: Target ratio (chainrule / PyTorch) of every conv2d row, forward and forward + gradients.
CONV_TARGET = 2.0


def conv_workloads(torch, batch: int, seed: int = 0) -> list:
    """conv2d + bias alone, forward and forward + backward (gradients of x, w and b), per shape.

    chainrule: ``F.conv`` on NHWC with a Keras kernel (3, 3, C_in, C_out); PyTorch:
    ``F.conv2d`` on NCHW. The backward is driven by ``sum(y * g)`` for a fixed cotangent g in
    both, so each computes dL/dx, dL/dw and dL/db of one convolution layer.
    """
    cr = importlib.import_module("chainrule")
    from chainrule import functional as F
    import torch.nn.functional as tF

    out = []
    rng = np.random.default_rng(seed)
    for name, hw, c_in, c_out in CONV_SHAPES:
        x = rng.random((batch, hw, hw, c_in), dtype=np.float32)
        w = (rng.standard_normal((3, 3, c_in, c_out)) * 0.1).astype(np.float32)
        b = rng.standard_normal(c_out).astype(np.float32)
        g = rng.standard_normal((batch, hw - 2, hw - 2, c_out)).astype(np.float32)
        xc, wc, bc = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
        gc = cr.tensor(g)
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(True)
        wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).requires_grad_(True)
        bt = torch.from_numpy(b.copy()).requires_grad_(True)
        gt = torch.from_numpy(np.ascontiguousarray(g.transpose(0, 3, 1, 2)))

        def cr_fwd(xc=xc, wc=wc, bc=bc):
            with cr.no_grad():
                return F.conv(xc, wc, bc)

        def cr_bwd(xc=xc, wc=wc, bc=bc, gc=gc):
            return cr.grad((F.conv(xc, wc, bc) * gc).sum(), [xc, wc, bc])

        def th_fwd(xt=xt, wt=wt, bt=bt):
            with torch.no_grad():
                return tF.conv2d(xt, wt, bt)

        def th_bwd(xt=xt, wt=wt, bt=bt, gt=gt):
            return torch.autograd.grad((tF.conv2d(xt, wt, bt) * gt).sum(), [xt, wt, bt])

        # Same math, so the same numbers: a benchmark of a wrong computation is worthless.
        np.testing.assert_allclose(cr_fwd().numpy(), th_fwd().numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(cr_bwd()[1].numpy(), th_bwd()[1].numpy().transpose(2, 3, 1, 0),
                                   rtol=1e-3, atol=1e-2)
        flops = conv_flops(batch, (hw - 2, hw - 2), 3, c_in, c_out)
        desc = f"conv2d {hw}x{hw}x{c_in} -> {c_out} filters, 3x3, stride 1, valid, with bias; batch {batch}"
        layout = ["chainrule NHWC and (3, 3, C_in, C_out) kernel, PyTorch NCHW and (C_out, C_in, 3, 3)"]
        out.append(Workload(
            name=name, kind="op", description=desc + ", forward only",
            variants=[Variant("chainrule", "chainrule", cr_fwd), Variant("pytorch", "pytorch", th_fwd)],
            rows=[Row("forward", "chainrule", "pytorch", CONV_TARGET)], flops_per_step=flops, notes=layout))
        out.append(Workload(
            name=name, kind="op", description=desc + ", forward + gradients of x, w, b",
            variants=[Variant("chainrule", "chainrule", cr_bwd), Variant("pytorch", "pytorch", th_bwd)],
            rows=[Row("fwd+bwd", "chainrule", "pytorch", CONV_TARGET)], flops_per_step=3 * flops, notes=layout))
    return out


def all_workloads(torch, batch: int, fit_batches: int, only=None):
    """Yield (name, builder) pairs; a builder returns a list of Workloads or raises Skip."""
    for spec in MODELS:
        if only and not any(o in spec.name for o in only):
            continue
        yield spec.name, (lambda spec=spec: model_workloads(spec, torch, batch, fit_batches))
    if not only or any(o in "conv2d" for o in only):
        yield "conv2d", (lambda: conv_workloads(torch, batch))
    if not only or any(o in "engine_overhead" for o in only):
        yield "engine_overhead", (lambda: [engine_workload(torch)])
    from .recurrent import recurrent_workloads  # LSTM and GRU training steps (benchmarks/recurrent.py)

    yield from recurrent_workloads(torch, only)
