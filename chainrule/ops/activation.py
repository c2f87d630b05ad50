"""Activation functions and the softmax family, each a fused ``Function``.

relu, sigmoid and tanh live in ``elementwise``; this module adds leaky_relu,
elu, selu, gelu (exact and tanh forms), softplus, silu/swish, mish, relu6,
hard_sigmoid, softmax and log_softmax, and the error function ``erf`` that the
exact GELU needs (NumPy has none, and SciPy is not a dependency).

``softmax`` here and ``sigmoid`` in ``elementwise`` also record their input on their output, as Keras's
``_keras_logits``: ``y._keras_logits = (op class, logits, axes)``, in every mode,
graph or ``no_grad``. The cross-entropies read it to compute the loss from the
logits (see ``ops.loss``). It holds the logits only as long as the output lives.

Defaults follow Keras where Keras and PyTorch differ; each docstring says so.
Every backward is written with Tensor ops (or Functions that have their own
backward), so ``create_graph=True`` differentiates it again. Where a derivative
is not defined at a point (a kink), the choice PyTorch makes is used.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor, ensure_tensor
from ..backend import floatx_dtype, xp
from .elementwise import Sigmoid, exp, sigmoid, tanh, where
from .reduction import normalize_axis, sum as _sum

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_GELU_K = 0.044715


def _float_input(op: str, x) -> Tensor:
    x = ensure_tensor(x)
    kind = x.data.dtype.kind
    if kind != "f":
        if kind not in "iub":
            raise TypeError(f"{op}: expected a numeric tensor, got dtype {x.data.dtype}")
        x = Tensor._wrap(x.data.astype(floatx_dtype()))
    return x


def _sigmoid_array(x):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------------------ erf
# FreeBSD/Sun fdlibm s_erf.c rational approximations (error below 1 ulp in float64).
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_ERX = 8.45062911510467529297e-01
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)


def _poly(z, coeffs):
    """c0 + c1 z + c2 z^2 + ... by Horner's rule, in place."""
    acc = z * coeffs[-1]
    acc += coeffs[-2]
    for c in coeffs[-3::-1]:
        acc *= z
        acc += c
    return acc


def _erf_abs_tail(v, r):
    """1 - erfc(v) for v >= 1.25, with erfc(v) = e^{-v^2 - 0.5625 + r} / v.

    e^{-v^2} is taken in two parts: z keeps the high 32 bits of v, so z*z is exact."""
    z = (v.view(xp.uint64) & xp.uint64(0xFFFFFFFF00000000)).view(xp.float64)
    erfc = xp.exp(-z * z - 0.5625) * xp.exp((z - v) * (z + v) + r) / v
    return 1.0 - erfc


def erf_array(x):
    """erf of an ndarray, computed in float64 and returned in x's float dtype.

    Piecewise rational approximations (fdlibm's s_erf.c) of erf(|x|), then the sign of x:
    |x| + |x| R(x^2) below 0.84375; erf(1) + P(s)/Q(s), s = |x| - 1, up to 1.25;
    1 - e^{-x^2 - 0.5625 + R(1/x^2)/S(1/x^2)}/|x| up to 6; 1 beyond. Within about one unit
    in the last place of float64.
    """
    x = xp.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else floatx_dtype()
    a = x.astype(xp.float64, copy=False)
    ax = xp.abs(a)
    out = xp.ones_like(ax)
    m = ax < 0.84375
    v = ax[m]
    z = v * v
    out[m] = v + v * (_poly(z, _PP) / _poly(z, _QQ))
    m = (ax >= 0.84375) & (ax < 1.25)
    if m.any():
        s = ax[m] - 1.0
        out[m] = _ERX + _poly(s, _PA) / _poly(s, _QA)
    m = (ax >= 1.25) & (ax < 1.0 / 0.35)
    if m.any():
        v = ax[m]
        s = 1.0 / (v * v)
        out[m] = _erf_abs_tail(v, _poly(s, _RA) / _poly(s, _SA))
    m = (ax >= 1.0 / 0.35) & (ax < 6.0)
    if m.any():
        v = ax[m]
        s = 1.0 / (v * v)
        out[m] = _erf_abs_tail(v, _poly(s, _RB) / _poly(s, _SB))
    xp.copysign(out, a, out=out)
    nan = xp.isnan(a)
    if nan.any():
        out[nan] = xp.nan
    return out.astype(out_dtype, copy=False)


# erfc(z) = t exp(-z^2 + P(t)), t = 1/(1 + z/2), z >= 0: the Chebyshev fit of Numerical Recipes
# (erfcc), relative error below 1.2e-7 for every z -- float32's precision, in about 25 float32
# passes instead of erf_array's float64 piecewise evaluation.
_ERFCC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
          -0.82215223, 0.17087277)


def normal_cdf_float32(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 of a float32 array, to float32 precision (absolute error
    about 1e-7), computed in float32; used by the exact GELU on float32 data."""
    f = xp.float32
    z = xp.abs(x) * f(_INV_SQRT_2)
    t = z * f(0.5)
    t += f(1.0)
    xp.reciprocal(t, out=t)
    acc = t * f(_ERFCC[-1])
    for c in _ERFCC[-2:0:-1]:
        acc += f(c)
        acc *= t
    acc += f(_ERFCC[0])
    z *= z
    acc -= z
    xp.exp(acc, out=acc)
    acc *= t                      # erfc(|x| / sqrt 2)
    acc *= f(0.5)                 # Phi(-|x|)
    return xp.where(x >= 0, f(1.0) - acc, acc)


class Erf(Function):
    """y = erf(x) = (2/sqrt(pi)) int_0^x e^{-t^2} dt.  dy/dx = (2/sqrt(pi)) e^{-x^2}."""

    def forward(self, x):
        return erf_array(x)

    def backward(self, g):
        (x,) = self.inputs
        return g * (exp(-(x * x)) * _TWO_OVER_SQRT_PI)


def erf(x) -> Tensor:
    """The error function, elementwise (see ``Erf``)."""
    return Erf.apply(_float_input("erf", x))


# ----------------------------------------------------------------------------- piecewise linear
class LeakyRelu(Function):
    """y = x if x > 0 else a x.  dy/dx = 1 if x > 0 else a (a at x = 0, as PyTorch).

    Computed without a masked select, which is slow on data of mixed signs: y = max(x, a x) for
    a <= 1 (min(x, a x) for a > 1), and the derivative as a + (1 - a) [x > 0].
    """

    def forward(self, x, negative_slope):
        self.mask = x > 0
        self.slope = x.dtype.type(negative_slope)   # in x's dtype: no float64 temporaries below
        y = x * self.slope
        (xp.maximum if self.slope <= 1 else xp.minimum)(x, y, out=y)
        return y

    def backward(self, g):
        w = self.mask.astype(g.dtype)
        w *= 1 - self.slope
        w += self.slope
        return g * Tensor._wrap(w)


class Relu6(Function):
    """y = min(max(x, 0), 6).  dy/dx = 1 for 0 < x < 6, else 0 (as PyTorch's relu6)."""

    def forward(self, x):
        self.mask = (x > 0) & (x < 6)
        return xp.clip(x, 0, 6).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * Tensor._wrap(self.mask.astype(g.dtype))


class HardSigmoid(Function):
    """y = relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1) (Keras 3's and PyTorch's form).

    dy/dx = 1/6 for -3 < x < 3, else 0.
    """

    def forward(self, x):
        self.mask = (x > -3) & (x < 3)
        return xp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * Tensor._wrap((self.mask / 6.0).astype(g.dtype))


# ------------------------------------------------------------------------------------- smooth
class Elu(Function):
    """y = s x if x > 0 else s a (e^x - 1).  dy/dx = s if x > 0 else s a e^x = y + s a.

    elu has s = 1; selu has the SELU constants a = 1.6732632..., s = 1.0507009...
    The second form of the derivative reads the output y, so it is itself differentiable.
    """

    def forward(self, x, alpha, scale):
        self.mask = x > 0
        self.alpha, self.scale = alpha, scale
        self.save_output()
        neg = xp.expm1(xp.minimum(x, 0)) * alpha
        y = xp.where(self.mask, x, neg)
        if scale != 1.0:
            y = y * scale
        return y.astype(x.dtype, copy=False)

    def backward(self, g):
        y = self.output
        d = where(Tensor._wrap(self.mask), self.scale, y + self.scale * self.alpha)
        return g * d


class Softplus(Function):
    """y = ln(1 + e^x), computed as ln(1 + e^{-|x|}) + max(x, 0) (no overflow).  dy/dx = sigmoid(x).

    PyTorch's softplus switches to y = x above x = 20; this form is exact everywhere.
    """

    def forward(self, x):
        return (xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * Sigmoid.apply(self.inputs[0])


class Silu(Function):
    """y = x sigmoid(x) (swish, SiLU).  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)."""

    def forward(self, x):
        return x * _sigmoid_array(x)

    def backward(self, g):
        (x,) = self.inputs
        s = Sigmoid.apply(x)
        return g * (s * (1.0 + x * (1.0 - s)))


class Mish(Function):
    """y = x tanh(softplus(x)).  dy/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    def forward(self, x):
        sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)
        return (x * xp.tanh(sp)).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.inputs
        t = tanh(Softplus.apply(x))
        return g * (t + x * Sigmoid.apply(x) * (1.0 - t * t))


class Gelu(Function):
    """Gaussian error linear unit.

    Exact:  y = x Phi(x), Phi(x) = (1 + erf(x/sqrt 2))/2.  dy/dx = Phi(x) + x phi(x),
            phi(x) = e^{-x^2/2}/sqrt(2 pi).
    Tanh:   y = x (1 + tanh u)/2, u = sqrt(2/pi) (x + 0.044715 x^3).
            dy/dx = (1 + t)/2 + x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2)/2, t = tanh u.
    """

    def forward(self, x, approximate):
        self.approximate = approximate
        if approximate:
            self.t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_K * x * x * x))
            return (0.5 * x * (1 + self.t)).astype(x.dtype, copy=False)
        if x.dtype == xp.float32:
            self.cdf = normal_cdf_float32(x)
        else:
            self.cdf = 0.5 * (1 + erf_array(x * _INV_SQRT_2))
        return x * self.cdf

    def backward(self, g):
        (x,) = self.inputs
        if is_grad_enabled():  # create_graph: build the derivative from differentiable ops
            if self.approximate:
                t = tanh((x + x * x * x * _GELU_K) * _SQRT_2_OVER_PI)
                du = (1.0 + x * x * (3 * _GELU_K)) * _SQRT_2_OVER_PI
                return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
            cdf = 0.5 * (1.0 + erf(x * _INV_SQRT_2))
            return g * (cdf + x * exp(-0.5 * (x * x)) * _INV_SQRT_2PI)
        xd = x.data
        if self.approximate:
            t = self.t
            du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_K * xd * xd)
            d = 0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * du
        else:
            d = self.cdf + xd * xp.exp(-0.5 * xd * xd) * _INV_SQRT_2PI
        return g * Tensor._wrap(d.astype(g.dtype, copy=False))


# ------------------------------------------------------------------------------- softmax family
class Softmax(Function):
    """y_i = e^{x_i - m} / sum_j e^{x_j - m}, m = max_j x_j (along ``axis``; no overflow).

    dL/dx_i = y_i (g_i - sum_j g_j y_j)  (the Jacobian diag(y) - y y^T applied to g).
    """

    def forward(self, x, axes):
        self.axes = axes
        self.save_output()
        if x.size == 0:
            return x.copy()
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, xp.zeros((), x.dtype))
        e = xp.exp(x - m)
        e /= e.sum(axis=axes, keepdims=True)
        return e

    def backward(self, g):
        y = self.output
        return y * (g - _sum(g * y, axis=self.axes, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - logsumexp_j x_j = (x_i - m) - ln sum_j e^{x_j - m} (along ``axis``).

    dL/dx_i = g_i - softmax(x)_i sum_j g_j, with softmax(x) = e^y.
    """

    def forward(self, x, axes):
        self.axes = axes
        self.save_output()
        if x.size == 0:
            return x.copy()
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, xp.zeros((), x.dtype))
        s = x - m
        s -= xp.log(xp.exp(s).sum(axis=axes, keepdims=True))
        return s

    def backward(self, g):
        return g - exp(self.output) * _sum(g, axis=self.axes, keepdims=True)


# ------------------------------------------------------------------------------------ functions
def leaky_relu(x, negative_slope: float = 0.2) -> Tensor:
    r"""max(x, 0) + negative_slope min(x, 0).

    Default slope 0.2 as ``keras.activations.leaky_relu`` (``keras.layers.LeakyReLU``
    uses 0.3, PyTorch 0.01).

    Math:
        $$y = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}, \qquad \frac{dy}{dx} = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}$$
    """
    return LeakyRelu.apply(_float_input("leaky_relu", x), negative_slope=float(negative_slope))


def relu6(x) -> Tensor:
    """min(max(x, 0), 6)."""
    return Relu6.apply(_float_input("relu6", x))


def hard_sigmoid(x) -> Tensor:
    r"""relu6(x + 3) / 6, as Keras 3 and PyTorch (Keras 2 used 0.2 x + 0.5).

    Math:
        $$y = \frac{\min(\max(x + 3, 0), 6)}{6}, \qquad \frac{dy}{dx} = \begin{cases} \tfrac16 & -3 < x < 3 \\ 0 & \text{otherwise} \end{cases}$$
    """
    return HardSigmoid.apply(_float_input("hard_sigmoid", x))


def hard_silu(x) -> Tensor:
    """x hard_sigmoid(x) (hard swish)."""
    x = _float_input("hard_silu", x)
    return x * hard_sigmoid(x)


def elu(x, alpha: float = 1.0) -> Tensor:
    r"""x if x > 0 else alpha (e^x - 1).

    Math:
        $$y = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases}, \qquad \frac{dy}{dx} = \begin{cases} 1 & x > 0 \\ \alpha e^{x} = y + \alpha & x \le 0 \end{cases}$$
    """
    return Elu.apply(_float_input("elu", x), alpha=float(alpha), scale=1.0)


def selu(x) -> Tensor:
    r"""scale * elu(x, alpha) with alpha = 1.67326324..., scale = 1.05070098... (Klambauer et al., 2017).

    Math:
        $$y = \lambda \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases}, \qquad \frac{dy}{dx} = \lambda \begin{cases} 1 & x > 0 \\ \alpha e^{x} & x \le 0 \end{cases}, \quad \alpha \approx 1.6733,\ \lambda \approx 1.0507$$
    """
    return Elu.apply(_float_input("selu", x), alpha=SELU_ALPHA, scale=SELU_SCALE)


def gelu(x, approximate: bool = False) -> Tensor:
    r"""x Phi(x) (``approximate=False``, exact, erf form) or its tanh approximation.

    ``approximate=False`` as ``keras.activations.gelu`` and PyTorch (``approximate='none'``);
    ``approximate=True`` is PyTorch's ``approximate='tanh'``. The strings 'none' and 'tanh'
    are accepted too.

    Math:
        $$y = x\,\Phi(x) = \frac{x}{2}\Bigl(1 + \operatorname{erf}\bigl(x/\sqrt2\bigr)\Bigr), \qquad \frac{dy}{dx} = \Phi(x) + x\,\varphi(x), \quad \varphi(x) = \frac{e^{-x^{2}/2}}{\sqrt{2\pi}}$$

        The tanh form (``approximate=True``):

        $$y = \frac{x}{2}\Bigl(1 + \tanh\bigl(\sqrt{2/\pi}\,(x + 0.044715\,x^{3})\bigr)\Bigr)$$
    """
    if isinstance(approximate, str):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be a bool, 'none' or 'tanh', got {approximate!r}")
        approximate = approximate == "tanh"
    return Gelu.apply(_float_input("gelu", x), approximate=bool(approximate))


def softplus(x) -> Tensor:
    r"""ln(1 + e^x), stable for any x.

    Math:
        $$y = \ln(1 + e^{x}), \qquad \frac{dy}{dx} = \frac{1}{1 + e^{-x}} = \sigma(x)$$
    """
    return Softplus.apply(_float_input("softplus", x))


def silu(x) -> Tensor:
    """x sigmoid(x) (also called swish)."""
    return Silu.apply(_float_input("silu", x))


swish = silu


def mish(x) -> Tensor:
    """x tanh(softplus(x))."""
    return Mish.apply(_float_input("mish", x))


def softsign(x) -> Tensor:
    """x / (|x| + 1)."""
    x = _float_input("softsign", x)
    return x / (abs(x) + 1.0)


def softmax(x, axis=-1) -> Tensor:
    r"""exp(x) / sum(exp(x)) along ``axis`` (default the last, as Keras; PyTorch has no default).

    The output records x as its logits (``_keras_logits``) for the cross-entropy losses.

    Math:
        $$y_i = \frac{e^{x_i}}{\sum_j e^{x_j}}, \qquad \frac{\partial y_i}{\partial x_j} = y_i\,(\delta_{ij} - y_j), \quad \bar x = y \odot \bigl(\bar y - \textstyle\sum_j \bar y_j y_j\bigr)$$
    """
    x = _float_input("softmax", x)
    axes = normalize_axis("softmax", axis, x.data.ndim)
    y = Softmax.apply(x, axes=axes)
    y._keras_logits = (Softmax, x, axes)
    return y


def log_softmax(x, axis=-1) -> Tensor:
    r"""x - logsumexp(x) along ``axis`` (default the last, as Keras).

    Math:
        $$y_i = x_i - \log \sum_j e^{x_j}, \qquad \frac{\partial y_i}{\partial x_j} = \delta_{ij} - \operatorname{softmax}(x)_j, \quad \bar x = \bar y - \operatorname{softmax}(x) \textstyle\sum_j \bar y_j$$
    """
    x = _float_input("log_softmax", x)
    return LogSoftmax.apply(x, axes=normalize_axis("log_softmax", axis, x.data.ndim))


__all__ = [
    "Elu", "Erf", "Gelu", "HardSigmoid", "LeakyRelu", "LogSoftmax", "Mish", "Relu6", "SELU_ALPHA", "SELU_SCALE",
    "Silu", "Softmax", "Softplus", "elu", "erf", "erf_array", "gelu", "hard_sigmoid", "hard_silu", "leaky_relu",
    "log_softmax", "mish", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "swish",
]
