"""NumPy's random names, returning tensors: ``import chainrule as np`` runs ``np.random.randn(3, 1)``.

The texts write their NumPy blocks against ``numpy.random``; with the import line changed to
``import chainrule as np`` the same calls land here and return ``Tensor``s, so the hand-written
formulas that follow become differentiable (pass ``requires_grad=True``, or call
``w.requires_grad_()``, and ``backward()`` fills ``w.grad``).

Every draw comes from the library's generator, so ``cr.random.seed(s)`` and ``cr.manual_seed(s)``
are the same thing: both reseed the generator that initializers, dropout and shuffling use.
Floating results take ``cr.floatx()`` (float32 unless changed); integer draws are int64.

The NumPy names mirrored (legacy ``np.random.*`` functions, and ``default_rng()``'s Generator):

===================  ===================================================================
``seed(s)``          reseed (``cr.manual_seed``)
``rand(d0, d1, ...)``   uniform on [0, 1), shape given as separate ints
``randn(d0, d1, ...)``  standard normal N(0, 1)
``random(size)``     uniform on [0, 1) (also ``random_sample``)
``standard_normal(size)``  N(0, 1)
``normal(loc, scale, size)``  N(loc, scale^2): loc + scale * z
``uniform(low, high, size)``  uniform on [low, high): low + (high - low) * u
``randint(low, high, size)``  integers in [low, high) (``high=None``: [0, low))
``binomial(n, p, size)``  counts of successes in n trials of probability p (int64)
``choice(a, size, replace, p)``  samples of ``a`` (an int n means ``arange(n)``)
``permutation(x)``   a shuffled copy (an int n means a permutation of ``arange(n)``)
``shuffle(x)``       shuffles an ndarray or a tensor's data in place along axis 0; returns None
``default_rng(seed)``  a ``Generator`` with ``random``, ``standard_normal``, ``normal``,
                     ``uniform``, ``integers``, ``binomial``, ``choice``, ``permutation``,
                     ``shuffle``, also returning tensors
===================  ===================================================================

Every function takes ``requires_grad=False`` (floats only) and ``dtype=None`` as keywords.
The draws themselves have no gradient: a sample is a new leaf.
"""
from __future__ import annotations

from . import backend
from .autograd.tensor import Tensor
from .backend import xp

__all__ = [
    "Generator", "binomial", "choice", "default_rng", "normal", "permutation", "rand", "randint", "randn",
    "random", "random_sample", "seed", "shuffle", "standard_normal", "uniform",
]


def _size(size, where):
    """NumPy's ``size``: None (one scalar), an int, or a tuple of ints."""
    if size is None:
        return None
    shape = (size,) if isinstance(size, (int, xp.integer)) else tuple(size)
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, (int, xp.integer)) or s < 0:
            raise ValueError(f"random.{where}: size must be None, a non-negative int or a tuple of them, got {size!r}")
    return tuple(int(s) for s in shape)


def _tensor(arr, dtype, requires_grad, where):
    """Wrap a draw: floats in ``dtype`` or ``cr.floatx()``, integers as drawn."""
    arr = xp.asarray(arr)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind == "f":
        arr = arr.astype(backend.floatx_dtype(), copy=False)
    t = Tensor._wrap(arr)
    if requires_grad:
        if arr.dtype.kind != "f":
            raise ValueError(f"random.{where}: requires_grad=True needs floating samples, got dtype {arr.dtype}")
        t.requires_grad_(True)
    return t


def _data(x):
    return x.data if isinstance(x, Tensor) else x


class Generator:
    """NumPy's ``Generator`` (``np.random.default_rng(seed)``) whose draws are tensors.

    ``default_rng()`` without a seed draws its seed from the library's generator, so it too is
    reproducible after ``cr.manual_seed``. ``gen.bit_generator`` is NumPy's, for code that needs it.
    """

    def __init__(self, numpy_generator: xp.random.Generator):
        self._gen = numpy_generator

    @property
    def bit_generator(self):
        return self._gen.bit_generator

    def random(self, size=None, dtype=None, requires_grad=False) -> Tensor:
        """Uniform samples on [0, 1)."""
        return _tensor(self._gen.random(_size(size, "random")), dtype, requires_grad, "random")

    def standard_normal(self, size=None, dtype=None, requires_grad=False) -> Tensor:
        """Samples z ~ N(0, 1)."""
        return _tensor(self._gen.standard_normal(_size(size, "standard_normal")), dtype, requires_grad,
                       "standard_normal")

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=None, requires_grad=False) -> Tensor:
        """Samples loc + scale * z with z ~ N(0, 1)."""
        return _tensor(self._gen.normal(_data(loc), _data(scale), _size(size, "normal")), dtype, requires_grad,
                       "normal")

    def uniform(self, low=0.0, high=1.0, size=None, dtype=None, requires_grad=False) -> Tensor:
        """Samples low + (high - low) * u with u uniform on [0, 1)."""
        return _tensor(self._gen.uniform(_data(low), _data(high), _size(size, "uniform")), dtype, requires_grad,
                       "uniform")

    def integers(self, low, high=None, size=None, dtype=None, endpoint=False) -> Tensor:
        """Integers in [low, high) (``high=None``: [0, low); ``endpoint=True``: [low, high])."""
        return _tensor(self._gen.integers(low, high, _size(size, "integers"), endpoint=endpoint), dtype, False,
                       "integers")

    def binomial(self, n, p, size=None, dtype=None) -> Tensor:
        """The number of successes in ``n`` independent trials of probability ``p``."""
        return _tensor(self._gen.binomial(_data(n), _data(p), _size(size, "binomial")), dtype, False, "binomial")

    def choice(self, a, size=None, replace=True, p=None, dtype=None, requires_grad=False) -> Tensor:
        """Samples of ``a`` (an int n means ``arange(n)``), with replacement unless ``replace=False``,
        with probabilities ``p`` (uniform when None)."""
        a = _data(a)
        return _tensor(self._gen.choice(a, _size(size, "choice"), replace=replace, p=_data(p)), dtype,
                       requires_grad, "choice")

    def permutation(self, x, dtype=None) -> Tensor:
        """A shuffled copy of ``x`` along axis 0 (an int n means a permutation of ``arange(n)``)."""
        return _tensor(self._gen.permutation(_data(x)), dtype, False, "permutation")

    def shuffle(self, x) -> None:
        """Shuffle ``x`` (an ndarray, or a tensor's data) in place along axis 0, as NumPy does."""
        if isinstance(x, Tensor) and x._ctx is not None:
            raise ValueError("random.shuffle: cannot shuffle a tensor made by an op in place (its graph would "
                             "no longer describe it); shuffle a leaf, or use permutation()")
        self._gen.shuffle(_data(x))


def default_rng(seed=None) -> Generator:
    """A new ``Generator`` seeded with ``seed`` (NumPy's ``np.random.default_rng``).

    Without a seed its seed comes from the library's generator (``cr.manual_seed``).
    """
    if seed is None:
        seed = int(backend.rng().integers(0, 2**63 - 1))
    return Generator(xp.random.default_rng(seed))


def _global() -> Generator:
    # Wraps the library's generator itself (not a copy), so draws here and in the layers
    # come from one stream, and manual_seed reseeds both.
    return Generator(backend.rng())


def seed(seed) -> None:
    """Reseed the library's generator (``cr.manual_seed``), as ``np.random.seed`` does NumPy's."""
    backend.manual_seed(seed)


def _dims(dims, where):
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, xp.integer)):
            raise TypeError(f"random.{where}: dimensions are separate ints, as in NumPy "
                            f"({where}(3, 4), not {where}((3, 4))); got {dims!r}")
    return dims


def rand(*dims, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1) of shape ``dims`` (``rand()`` is one scalar)."""
    return _global().random(_dims(dims, "rand") or None, dtype, requires_grad)


def randn(*dims, dtype=None, requires_grad=False) -> Tensor:
    """Samples z ~ N(0, 1) of shape ``dims`` (``randn()`` is one scalar)."""
    return _global().standard_normal(_dims(dims, "randn") or None, dtype, requires_grad)


def random(size=None, dtype=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1)."""
    return _global().random(size, dtype, requires_grad)


random_sample = random


def standard_normal(size=None, dtype=None, requires_grad=False) -> Tensor:
    """Samples z ~ N(0, 1)."""
    return _global().standard_normal(size, dtype, requires_grad)


def normal(loc=0.0, scale=1.0, size=None, dtype=None, requires_grad=False) -> Tensor:
    """Samples loc + scale * z with z ~ N(0, 1)."""
    return _global().normal(loc, scale, size, dtype, requires_grad)


def uniform(low=0.0, high=1.0, size=None, dtype=None, requires_grad=False) -> Tensor:
    """Samples low + (high - low) * u with u uniform on [0, 1)."""
    return _global().uniform(low, high, size, dtype, requires_grad)


def randint(low, high=None, size=None, dtype=None) -> Tensor:
    """Integers in [low, high) (``high=None``: [0, low)), int64 unless ``dtype``."""
    return _global().integers(low, high, size, dtype)


def binomial(n, p, size=None, dtype=None) -> Tensor:
    """The number of successes in ``n`` independent trials of probability ``p``."""
    return _global().binomial(n, p, size, dtype)


def choice(a, size=None, replace=True, p=None, dtype=None, requires_grad=False) -> Tensor:
    """Samples of ``a`` (an int n means ``arange(n)``), with replacement unless ``replace=False``."""
    return _global().choice(a, size, replace, p, dtype, requires_grad)


def permutation(x, dtype=None) -> Tensor:
    """A shuffled copy of ``x`` along axis 0 (an int n means a permutation of ``arange(n)``)."""
    return _global().permutation(x, dtype)


def shuffle(x) -> None:
    """Shuffle ``x`` (an ndarray, or a leaf tensor's data) in place along axis 0; returns None."""
    _global().shuffle(x)
