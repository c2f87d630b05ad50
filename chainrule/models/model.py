"""``Model``: a layer that can be trained (Keras's ``keras.Model``, subclassing API).

``cr.Model(inputs, outputs)`` (symbolic tensors from ``cr.Input``) makes a functional model
instead (``Model.__new__`` returns a ``Functional``, see ``functional.py``); what follows is
the subclassing API, which every kind of model shares for compiling, training and saving.

    class MLP(cr.Model):
        def __init__(self, units=64):
            super().__init__()
            self.hidden = cr.layers.Dense(units, activation="relu")
            self.out = cr.layers.Dense(10, activation="softmax")

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    model = MLP()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=5)

Layers assigned as attributes are tracked (their weights are the model's, in the
order assigned) and are built at the first call. A sub-layer called without
``training`` inherits the model's mode (``fit`` runs the model with
``training=True``; ``evaluate``/``predict`` with ``training=False``), as in Keras,
so ``self.dropout(self.bn(x))`` trains its BatchNormalization and Dropout. ``compile`` picks the optimizer,
loss and metrics; ``fit``/``evaluate``/``predict`` run the loops in ``training``;
``save``/``load_weights`` use ``saving``.

A subclassed model's constructor arguments are recorded, so ``get_config`` returns
them (when they are JSON-able: numbers, strings, lists, dicts) and ``load_model``
can rebuild the model, provided its class is importable (defined at module level)
or passed as ``custom_objects={"MLP": MLP}``. Override ``get_config``/``from_config``
for anything else.
"""
from __future__ import annotations

import numbers

import inspect
import json

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..layers.base import Layer
from . import training


class Model(Layer):
    """A trainable stack of layers; subclass it and define ``call(self, x, training=False)``."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            # cr.Model(inputs, outputs): the functional API, as Keras's Model.__new__ does.
            from .functional import Functional

            cls = Functional
        obj = super().__new__(cls)
        # The constructor's arguments, for the default get_config of a subclassed model.
        obj.__dict__["_init_args"] = (args, kwargs)
        return obj

    def __init__(self, *args, name: str | None = None, trainable: bool = True, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__: a subclassed model takes no inputs/outputs (build layers in "
                "__init__ and define call(self, x, training=False)); for the functional API call "
                "cr.Model(inputs, outputs) itself")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._reset_compile()
        self.stop_training = False
        self.history = None
        self._build_input = None  # [(shape with None batch, dtype)], recorded at the first call

    # ------------------------------------------------------------------ calling and building
    def call(self, inputs, training: bool = False):
        raise NotImplementedError(
            f"{type(self).__name__}.call is not implemented: a subclassed Model defines "
            "call(self, x, training=False)")

    def __call__(self, inputs, training=None, **kwargs):
        record = self.__dict__.get("_build_input", 0) is None
        signature = _signature(inputs) if record else None
        out = super().__call__(inputs, training=training, **kwargs)
        if record:  # the input signature of the first successful call, for saving
            self._build_input = signature
        return out

    def _maybe_build(self, x):
        shape = (None,) + tuple(x.shape[1:])
        declared = self._batch_input_shape
        if declared is not None:
            expected = tuple(declared[1:])
            if len(expected) != len(shape) - 1 or any(
                    e is not None and e != s for e, s in zip(expected, shape[1:])):
                raise ValueError(
                    f"{self.name}: the model expects inputs of shape {(None,) + expected} (batch first), "
                    f"but got an input of shape {tuple(x.shape)}")
        # Built before build() runs, so that a user's build() may call the model (or super().build).
        self.built = True
        user_build = type(self).build is not Model.build and type(self).build is not _sequential_build()
        if user_build and not self.__dict__.get("_building"):
            self._building = True
            try:
                self.build(shape)
            finally:
                self._building = False

    def build(self, input_shape=None) -> None:
        """Build the weights by calling the model on zeros of ``input_shape`` (batch axis first, may be None)."""
        if input_shape is None:
            raise ValueError(f"{self.name}.build: pass input_shape, e.g. (None, 784)")
        multi = _is_shape_list(input_shape)
        shapes = input_shape if multi else [input_shape]
        for s in shapes:
            if any(d is None for d in list(s)[1:]):
                raise ValueError(
                    f"{self.name}.build: input shape {tuple(s)} has unknown sizes besides the batch axis; a "
                    "subclassed model builds by calling itself on zeros, so give every size, or call the model "
                    "on data to build it")
        self.dry_run({"inputs": [(list(s), backend.floatx()) for s in shapes], "multi": multi})

    def dry_run(self, signature: dict) -> None:
        """Call the model once on zeros (batch of 1) to create every weight; no graph, training=False.

        ``signature``: ``{"inputs": [(shape, dtype), ...], "multi": bool}`` as recorded at the first call.
        """
        zeros = [Tensor._wrap(np.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=np.dtype(dtype)))
                 for shape, dtype in signature["inputs"]]
        building = self.__dict__.get("_building", False)
        self._building = True
        try:
            with no_grad():
                self(zeros if signature["multi"] else zeros[0], training=False)
        finally:
            self._building = building

    # ------------------------------------------------------------------ compile
    def _reset_compile(self):
        self.optimizer = None
        self.loss = None
        self.compiled_loss = None
        self.compiled_metrics = []
        self._metric_ids = []
        self._metric_outputs = []  # per metric: the index of its output, None for a one-output model
        self._weighted_flags = []  # per metric: weighted by sample_weight/class_weight (weighted_metrics)
        self._metrics_resolved = True
        self._is_compiled = False

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=None, jit_compile=None, **kwargs) -> None:
        """Choose the optimizer, loss and metrics (names, objects, or for loss/metrics callables).

        ``loss_weights``, ``run_eagerly``, ``steps_per_execution`` and ``jit_compile`` are accepted
        for Keras compatibility and ignored (there is one output and every step runs eagerly).
        """
        from .. import losses, metrics as metrics_mod, optimizers
        from .compile_utils import CompileLoss, configure, single_output

        if kwargs:
            raise TypeError(f"compile: unknown argument(s) {sorted(kwargs)}")
        opt = optimizers.get(optimizer)
        multi = configure(self, loss, loss_weights, metrics, weighted_metrics)  # None unless several outputs
        if multi is not None:
            loss_obj, metric_ids, metric_outputs, flags = multi
            shapes = [t.shape for t in self.outputs]
            compiled = [metrics_mod.get(m, loss=None if loss_obj is None else loss_obj.losses[i],
                                        output_shape=shapes[i]) for m, i in zip(metric_ids, metric_outputs)]
        else:
            if self.__dict__.get("output_names"):
                loss, loss_weights, metrics, weighted_metrics = single_output(
                    self, loss, loss_weights, metrics, weighted_metrics)
            if isinstance(loss, (dict, list, tuple)):
                raise ValueError("compile: one loss for one output is supported here; a list or dict of losses "
                                 "needs a functional model with several outputs (cr.Model(inputs, [out_a, out_b])); "
                                 f"got a {type(loss).__name__} of losses")
            if isinstance(metrics, dict):
                raise ValueError("compile: metrics must be a list for a model with one output, got a dict")
            if metrics is None:
                metric_ids = []
            elif isinstance(metrics, (str,)) or not isinstance(metrics, (list, tuple)):
                metric_ids = [metrics]
            else:
                metric_ids = list(metrics)
            weighted = list(weighted_metrics or [])
            flags = [False] * len(metric_ids) + [True] * len(weighted)
            metric_ids += weighted
            metric_outputs = [None] * len(metric_ids)
            loss_obj = losses.get(loss)
            out_shape = self._known_output_shape()
            compiled = [metrics_mod.get(m, loss=loss_obj, output_shape=out_shape) for m in metric_ids]
            weight = _one_loss_weight(loss_weights)
            # One output inside a list or dict (cr.Model(x, {"y": y})): the model returns that structure.
            structured = isinstance(self.__dict__.get("_outputs_struct"), dict)
            if loss_obj is not None and (weight is not None or structured):
                names = list(self.__dict__.get("output_names") or ["output"])
                loss_obj = CompileLoss([loss_obj], [None if weight is None else float(weight)], names[:1])
            if structured:
                metric_outputs = [0] * len(metric_ids)
        self.optimizer = opt
        self.loss = loss
        self.compiled_loss = loss_obj
        self._metric_ids = metric_ids
        self._metric_outputs = metric_outputs
        self._weighted_flags = flags
        self.compiled_metrics = _name_weighted(compiled, flags, metric_outputs)
        # 'accuracy' depends on the output and label shapes: resolve again at the first batch.
        self._metrics_resolved = False
        self._is_compiled = True

    @property
    def compiled(self) -> bool:
        return self._is_compiled

    def _known_output_shape(self):
        seen = self.output_shape_seen
        return None if seen is None else (None,) + tuple(seen[1:])

    def _metrics_for(self, y, y_pred):
        """The compiled metrics, resolved against the first batch's shapes ('accuracy' -> the right kind)."""
        if not self._metrics_resolved:
            from .. import metrics as metrics_mod

            resolved = []
            for m, c, i in zip(self._metric_ids, self.compiled_metrics, self._metric_outputs):
                if isinstance(m, str) or (callable(m) and not isinstance(m, metrics_mod.Metric)
                                          and not inspect.isclass(m)):
                    yt, yp, loss = self._output_slice(y, y_pred, i)
                    out = yp[0] if isinstance(yp, (list, tuple)) else yp
                    c = metrics_mod.get(m, loss=loss, output_shape=tuple(out.shape), y_true_shape=tuple(np.shape(yt)))
                resolved.append(c)
            self.compiled_metrics = _name_weighted(resolved, self._weighted_flags, self._metric_outputs)
            self._metrics_resolved = True
        return self.compiled_metrics

    def _output_slice(self, y, y_pred, index):
        """``(y_true, y_pred, loss)`` of output ``index`` (None: the one output)."""
        loss = self.compiled_loss
        if index is None:
            inner = getattr(loss, "losses", None)
            return y, y_pred, inner[0] if inner else loss
        preds = loss.outputs_as_list(y_pred) if loss is not None else (
            [y_pred[n] for n in self.output_names] if isinstance(y_pred, dict) else list(y_pred))
        yt = y[index] if isinstance(y, list) else y
        return yt, preds[index], None if loss is None else loss.losses[index]

    def _named_metrics(self) -> list:
        """``[(log name, metric)]``: ``<output name>_<metric name>`` for a metric of one of several outputs."""
        names = self.__dict__.get("output_names") or []
        return [(m.name if i is None or len(names) < 2 else f"{names[i]}_{m.name}", m)
                for m, i in zip(self.compiled_metrics, self._metric_outputs)]

    @property
    def metrics(self) -> list:
        """The compiled metrics, then the ``Metric`` objects held as attributes (a custom step's trackers).

        ``fit`` resets them all at the start of each epoch and ``evaluate`` before it starts; a
        subclass may override this property to list its trackers itself (as Keras's examples do).
        """
        from ..metrics import Metric

        out = list(self.compiled_metrics)
        for value in self.__dict__.values():
            if isinstance(value, Metric) and all(value is not m for m in out):
                out.append(value)
        return out

    @property
    def metrics_names(self) -> list:
        extra = list(self.compiled_loss.results()) if hasattr(self.compiled_loss, "results") else []
        return ["loss"] + [name for name, _ in self._named_metrics()] + extra

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()
        if hasattr(self.compiled_loss, "reset"):  # the per-output losses of a multi-output model
            self.compiled_loss.reset()

    # ------------------------------------------------------------------ custom training steps
    def train_step(self, data):
        """One training step on one batch; returns ``{metric name: value}`` (Keras's ``Model.train_step``).

        Override it to train a GAN or a VAE with ``fit`` (see ``models/custom_step.py``): ``data`` is
        the batch (``x``, ``(x, y)`` or ``(x, y, sample_weight)``, as Tensors). The default is the
        compiled step: forward pass, compiled loss, gradients, one ``optimizer.apply``; an override
        may call ``super().train_step(data)`` for it.
        """
        return self._default_step("train_step", data)

    def test_step(self, data):
        """One evaluation step on one batch (no graph); returns ``{metric name: value}``. Override as train_step."""
        return self._default_step("test_step", data)

    def _default_step(self, name, data):
        from .custom_step import unpack_x_y_sample_weight

        x, y, sw = unpack_x_y_sample_weight(data)
        unwrap = lambda v: None if v is None else (  # noqa: E731 - the standard steps take arrays
            [a.data if isinstance(a, Tensor) else a for a in v] if isinstance(v, (list, tuple))
            else (v.data if isinstance(v, Tensor) else v))
        stepper = self.__dict__.get("_active_stepper") or training.Stepper(self, name)
        step = stepper.standard_train_step if name == "train_step" else stepper.standard_test_step
        return step(unwrap(x), unwrap(y), unwrap(sw))

    # ------------------------------------------------------------------ the loops
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` passes over the data; returns the ``History`` (``.history``: dict of lists).

        ``x``/``y``: arrays or Tensors (``x`` may be a list for several inputs), or ``x`` a DataLoader /
        iterable of ``(x, y)`` batches. ``validation_split`` takes the last fraction of the arrays,
        before shuffling. ``verbose``: 0 silent, 1 progress bar (live, with ETA, on a terminal), 2 one
        line per epoch; ``"auto"`` (the default) is 1 on a terminal or notebook and 2 otherwise.
        """
        return training.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                            shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                            validation_batch_size, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss (and metrics) over the data: a float, or ``[loss, *metrics]`` when metrics were compiled."""
        return training.evaluate(self, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict)

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """The model's outputs for ``x`` as an ndarray, batch by batch, with ``training=False`` and no graph."""
        return training.predict(self, x, batch_size, verbose, steps, callbacks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics) of that batch."""
        return training.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return training.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x):
        return training.predict(self, x, batch_size=training._ONE_BATCH)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or at position ``index`` of ``model.layers``."""
        if name is not None and index is not None:
            raise ValueError(f"{self.name}.get_layer: give name or index, not both")
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"{self.name}.get_layer: index {index} is out of range; the model has "
                                 f"{len(self._layers)} layers")
            return self._layers[index]
        if name is not None:
            for layer in self._layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"{self.name}.get_layer: no layer named {name!r}; the layers are "
                             f"{[layer.name for layer in self._layers]}")
        raise ValueError(f"{self.name}.get_layer: give name or index")

    # ------------------------------------------------------------------ summary and saving
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
        """Print a Keras-style table of the layers, their output shapes and parameter counts."""
        from .summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)

    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Write architecture, weights and (if compiled) compile settings and optimizer state to one file."""
        from .saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Write the weights (safetensors), in ``model.weights`` order."""
        from .saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        """Load weights written by ``save_weights`` or ``save``; every shape must match."""
        from .saving import load_weights

        load_weights(self, filepath)

    def get_config(self) -> dict:
        """The constructor arguments of a subclassed model, when they are JSON-able."""
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        try:
            bound = inspect.signature(type(self).__init__).bind(None, *args, **kwargs)
        except TypeError:
            bound = None
        config = {}
        if bound is not None:
            params = inspect.signature(type(self).__init__).parameters
            for key, value in list(bound.arguments.items())[1:]:
                if params[key].kind is inspect.Parameter.VAR_KEYWORD:
                    config.update(value)
                elif params[key].kind is inspect.Parameter.VAR_POSITIONAL:
                    if value:
                        bound = None
                        break
                else:
                    config[key] = value
        try:
            if bound is None:
                raise TypeError("positional *args")
            json.dumps(config)
        except TypeError as exc:
            raise NotImplementedError(
                f"{type(self).__name__}.get_config: the constructor arguments are not JSON-serializable ({exc}); "
                "override get_config() (and from_config) to save this model, or use save_weights") from None
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        if cls is Model and isinstance(config, dict) and {"layers", "input_layers", "output_layers"} <= set(config):
            from .functional import Functional  # a functional model's config (Keras's Model.from_config does so)

            return Functional.from_config(config, custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _name_weighted(metrics, flags, outputs=None):
    """A weighted metric whose name an unweighted one (of the same output) already has is renamed
    ``weighted_<name>``."""
    outputs = outputs or [None] * len(metrics)
    plain = {(m.name, i) for m, w, i in zip(metrics, flags, outputs) if not w}
    for m, w, i in zip(metrics, flags, outputs):
        if w and (m.name, i) in plain:
            m.name = "weighted_" + m.name
    return metrics


def _sequential_build():
    from .sequential import Sequential

    return Sequential.build


def _is_shape_list(s) -> bool:
    return isinstance(s, (list, tuple)) and len(s) > 0 and all(isinstance(v, (list, tuple)) for v in s)


def _signature(inputs) -> dict:
    """``{"inputs": [(shape with the batch axis as None, dtype name)], "multi": bool}`` of a call's inputs."""
    multi = isinstance(inputs, (list, tuple))
    out = []
    for t in (inputs if multi else [inputs]):
        arr = t.data if isinstance(t, Tensor) else np.asarray(t)
        dtype = arr.dtype.name if arr.dtype.kind in "iuf" else backend.floatx()
        out.append(([None] + list(arr.shape[1:]), dtype))
    return {"inputs": out, "multi": multi}


def _one_loss_weight(loss_weights):
    """The loss weight of a one-output model: a number, or a one-entry list or dict of one (Keras accepts both)."""
    value = loss_weights
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"compile: loss_weights has {len(value)} entries, but the model has one output")
        value = value[0]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"compile: loss_weights must be a number (or a one-entry list of one) for a model with "
                        f"one output, got {loss_weights!r}")
    return float(value)
