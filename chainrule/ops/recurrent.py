"""Whole-sequence recurrent Functions: SimpleRNN, LSTM and GRU over all timesteps at once.

Running a cell step by step with recorded ops would put ~20 tiny nodes per step in the
graph (thousands for one sequence), and backpropagating through them costs mostly Python.
These Functions instead run the whole sequence in one node:

* the input projection of all timesteps is one matrix product ``X W + b`` of shape
  (T*B, D) x (D, G*U),
* the recurrence runs step by step on arrays (one (B, U) x (U, G*U) product per step),
* the backward pass through time (BPTT) is written out by hand: gate derivatives are
  formed for all steps at once where they depend only on forward values, the step loop
  carries dh (and dc) backwards, and the weight gradients are again single products over
  all timesteps: dW = X^T dZ, dU = H_prev^T dZ, db = sum(dZ).

Conventions (Keras's): inputs (batch, T, features); the sequence output is in processing
order (reversed when ``go_backwards``); a boolean ``mask`` (batch, T), True = a real step:
at a masked step the states are carried through unchanged (h_t = h_{t-1}, c_t = c_{t-1}) and
the output is the carried h (or zeros with ``zero_output_for_mask``).

Memory: the forward keeps, per step, the activated gates (B, G*U), the states (B, U) and
the projected inputs (B, G*U) as float arrays of the input dtype: about (2G + 3) * T * B * U
numbers for an LSTM (G = 4), plus the (T, B, D) time-major copy of the input.

Second order: when the engine runs a backward with ``create_graph=True`` (grad mode is on
inside ``backward``), the gradient is computed instead by replaying the sequence with the
unfused, differentiable step math (``reference_*`` below, the same formulas written with
Tensor ops) and differentiating that graph, so the gradient is itself differentiable.
"""
from __future__ import annotations

from .. import backend
from ..autograd.engine import grad as _grad
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from . import elementwise as ew
from .activation import hard_sigmoid
from .creation import zeros_like
from .indexing import stack
from .linalg import matmul

# --------------------------------------------------------------------------------- activations
# name -> (forward on arrays, derivative from the output y, forward on Tensors)
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "hard_sigmoid")


def _act(name, a):
    xp = backend.xp
    if name == "tanh":
        return xp.tanh(a, out=a)
    if name == "sigmoid":
        # 1/(1+e^-a) written as 0.5 + 0.5 tanh(a/2): no overflow for large |a|, one transcendental
        a *= 0.5
        xp.tanh(a, out=a)
        a *= 0.5
        a += 0.5
        return a
    if name == "relu":
        return xp.maximum(a, 0, out=a)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        a += 3.0
        xp.clip(a, 0.0, 6.0, out=a)
        a /= 6.0
        return a
    return a  # linear


def _act_grad(name, y):
    """dy/da from the output y (every supported activation's derivative is a function of it)."""
    xp = backend.xp
    if name == "tanh":
        return 1 - y * y  # tanh' = 1 - y^2
    if name == "sigmoid":
        return y * (1 - y)  # sigma' = y (1 - y)
    if name == "relu":
        return (y > 0).astype(y.dtype)
    if name == "hard_sigmoid":
        return ((y > 0) & (y < 1)).astype(y.dtype) / 6
    return xp.ones_like(y)


def _act_tensor(name, a: Tensor) -> Tensor:
    if name == "tanh":
        return ew.tanh(a)
    if name == "sigmoid":
        return ew.sigmoid(a)
    if name == "relu":
        return ew.relu(a)
    if name == "hard_sigmoid":
        return hard_sigmoid(a)
    return a


# --------------------------------------------------------------------------------- shared pieces
class _Sequence(Function):
    """Shared forward/backward scaffolding of the fused recurrent Functions.

    Inputs (Tensors): x (B, T, D), kernel (D, G*U), recurrent_kernel (U, G*U), bias, then the
    initial states (B, U) each. Outputs: the sequence (B, T, U), then the final states.
    """

    n_states = 1

    def _prepare(self, x, mask, go_backwards):
        xp = backend.xp
        B, T, _ = x.shape
        xs = x[:, ::-1] if go_backwards else x
        self.xt = xp.ascontiguousarray(xs.transpose(1, 0, 2))  # (T, B, D): step t is a contiguous block
        if mask is not None:
            m = xp.asarray(mask, dtype=bool)
            if m.shape != (B, T):
                raise ValueError(f"{type(self).__name__}: mask of shape {m.shape} does not match inputs (batch, T) = {(B, T)}")
            m = m[:, ::-1] if go_backwards else m
            self.m = xp.ascontiguousarray(m.T)[:, :, None]  # (T, B, 1) bool
            self.mf = self.m.astype(x.dtype)
        else:
            self.m = None
        self.go_backwards = go_backwards
        return B, T

    def _finish_dx(self, dZx):
        """dL/dX (B, T, D) from the projected-input gradients dZx (T, B, G*U)."""
        T, B, _ = dZx.shape
        kernel = self.inputs[1].data
        dxt = (dZx.reshape(T * B, -1) @ kernel.T).reshape(T, B, -1)
        dx = dxt.transpose(1, 0, 2)
        if self.go_backwards:
            dx = dx[:, ::-1]
        return Tensor._wrap(backend.xp.ascontiguousarray(dx))

    def _weight_grad(self, a_tm, dZ):
        """sum over steps of a_t^T dZ_t as one product: (T*B, K)^T (T*B, N)."""
        T, B, K = a_tm.shape
        return Tensor._wrap(a_tm.reshape(T * B, K).T @ dZ.reshape(T * B, -1))

    def backward(self, *grads):
        if is_grad_enabled():  # create_graph: differentiate the replayed, unfused graph
            return self._differentiable_backward(grads)
        return self._bptt(*[g.data for g in grads])

    def _differentiable_backward(self, grads):
        need = [i for i, n in enumerate(self.needs_input_grad) if n]
        outs = self.reference(*self.inputs, **self.params)
        got = _grad(list(outs), [self.inputs[i] for i in need], grad_outputs=list(grads), create_graph=True)
        res = [None] * len(self.inputs)
        for i, g in zip(need, got):
            res[i] = g
        return tuple(res)

    def _grad_outputs(self, g_seq, g_states):
        """Time-major sequence gradient (T, B, U) (None when zero) and the final states' gradients."""
        xp = backend.xp
        gy = xp.ascontiguousarray(g_seq.transpose(1, 0, 2)) if g_seq.any() else None
        return gy, [xp.array(g) for g in g_states]


def _masked(h_new, h_old, m):
    return backend.xp.where(m, h_new, h_old)


# --------------------------------------------------------------------------------- SimpleRNN
class SimpleRNNSequence(_Sequence):
    """h_t = act(x_t W + h_{t-1} U + b), for t = 1..T; outputs (h_1..h_T, h_T).

    Backward through time, with a_t = x_t W + h_{t-1} U + b and dh_t the total gradient
    reaching h_t (from the output at t and from step t+1):
        da_t = dh_t * act'(a_t)          (act' from the output: tanh' = 1 - h_t^2)
        dh_{t-1} += da_t U^T
        dW = sum_t x_t^T da_t,  dU = sum_t h_{t-1}^T da_t,  db = sum_t da_t,  dx_t = da_t W^T.
    Masked steps: h_t = m_t h_new + (1 - m_t) h_{t-1}, so dh_new = m_t dh_t and (1 - m_t) dh_t
    flows straight to h_{t-1}.
    """

    def forward(self, x, kernel, rkernel, bias, h0, mask=None, go_backwards=False, activation="tanh",
                zero_output_for_mask=False):
        self.params = dict(mask=mask, go_backwards=go_backwards, activation=activation,
                           zero_output_for_mask=zero_output_for_mask)
        xp = backend.xp
        B, T = self._prepare(x, mask, go_backwards)
        U = rkernel.shape[0]
        A = (self.xt.reshape(T * B, -1) @ kernel + bias).reshape(T, B, U)  # becomes the activated h_new
        H = xp.empty((T + 1, B, U), dtype=x.dtype)  # H[0] = h0, H[t+1] = state after step t
        H[0] = h0
        m = self.m
        for t in range(T):
            a = A[t]
            a += H[t] @ rkernel
            _act(activation, a)
            H[t + 1] = a if m is None else _masked(a, H[t], m[t])
        self.A, self.H = A, H
        seq = _seq_out(H[1:], A, m, zero_output_for_mask)
        return seq, H[T].copy()

    def _bptt(self, g_seq, g_h):
        xp = backend.xp
        x, kernel, rkernel, bias, h0 = self.inputs
        A, H, m = self.A, self.H, self.m
        T = A.shape[0]
        gy, (dh,) = self._grad_outputs(g_seq, (g_h,))
        zero_out = self.params["zero_output_for_mask"]
        D = _act_grad(self.params["activation"], A)  # act'(a_t) for every step at once
        dZ = xp.empty_like(A)
        rkT = rkernel.data.T
        for t in range(T - 1, -1, -1):
            if gy is not None and not (zero_out and m is not None):
                dh += gy[t]
            if m is None:
                dnew = dh
            else:
                dnew = dh * self.mf[t]
                if gy is not None and zero_out:
                    dnew += gy[t] * self.mf[t]
                dh = dh * (1 - self.mf[t])
            da = xp.multiply(dnew, D[t], out=dZ[t])
            if m is None:
                dh = da @ rkT
            else:
                dh += da @ rkT
        return (self._finish_dx(dZ), self._weight_grad(self.xt, dZ), self._weight_grad(H[:-1], dZ),
                Tensor._wrap(dZ.sum(axis=(0, 1))), Tensor._wrap(dh))

    @staticmethod
    def reference(x, kernel, rkernel, bias, h0, mask=None, go_backwards=False, activation="tanh",
                  zero_output_for_mask=False):
        """The same recurrence with differentiable Tensor ops, one step at a time."""

        def step(xp_t, states):
            (h,) = states
            h_new = _act_tensor(activation, xp_t + matmul(h, rkernel))
            return h_new, [h_new]

        return _reference_loop(x, kernel, bias, [h0], step, mask, go_backwards, zero_output_for_mask)


def _seq_out(states, new_outputs, m, zero_output_for_mask):
    """The (B, T, U) output sequence: the state after each step, or zeros at masked steps."""
    xp = backend.xp
    if m is not None and zero_output_for_mask:
        out = xp.where(m, new_outputs, 0)
    else:
        out = states
    return xp.ascontiguousarray(out.transpose(1, 0, 2))


def _reference_loop(x, kernel, bias, states, step, mask, go_backwards, zero_output_for_mask):
    """Run ``step`` over time with Tensor ops (Keras's masked-scan rules); returns (seq, *states)."""
    B, T, D = x.shape
    proj = matmul(x, kernel) + bias
    xp = backend.xp
    outs = []
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in order:
        out, new = step(proj[:, t], states)
        if mask is not None:
            m = Tensor._wrap(xp.asarray(mask)[:, t:t + 1])
            out = ew.where(m, out, zeros_like(out) if zero_output_for_mask else states[0])
            new = [ew.where(m, n, s) for n, s in zip(new, states)]
        outs.append(out)
        states = new
    return (stack(outs, axis=1), *states)
