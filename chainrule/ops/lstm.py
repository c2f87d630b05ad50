"""The LSTM over a whole sequence as one Function (Keras's gate layout i, f, c, o).

See ``ops/recurrent.py`` for the shared conventions (time order, masks, second order).
"""
from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from .linalg import matmul
from .recurrent import _act, _act_grad, _act_tensor, _masked, _reference_loop, _seq_out, _Sequence


class LSTMSequence(_Sequence):
    """LSTM: with z_t = x_t W + h_{t-1} U + b split into the blocks (i, f, c, o),

        i = s(z_i),  f = s(z_f),  g = a(z_c),  o = s(z_o)      (s: recurrent_activation, a: activation)
        c_t = f * c_{t-1} + i * g
        h_t = o * a(c_t)

    Inputs x (B, T, D), kernel W (D, 4U), recurrent_kernel U (U, 4U), bias b (4U,), h0, c0 (B, U);
    outputs the sequence of h (B, T, U), h_T, c_T.

    Backward through time. With dh_t, dc_t the total gradients reaching h_t and c_t (from the
    output at t, and from step t+1), and a'(c_t) from the stored a(c_t):
        do   = dh_t * a(c_t)
        dc   = dc_t + dh_t * o * a'(c_t)
        di   = dc * g,   df = dc * c_{t-1},   dg = dc * i
        dz   = (di s'(z_i), df s'(z_f), dg a'(z_c), do s'(z_o))    (s' = s(1-s), tanh' = 1-tanh^2)
        dc_{t-1} = dc * f,   dh_{t-1} = dz U^T
        dW = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t,  dx_t = dz_t W^T
    The derivative factors s'(.), a'(.) of all steps are formed in one vectorized pass before
    the step loop, which then does ~10 array operations and one (B, 4U) x (4U, U) product per step.
    Masked steps carry (h, c): the gradient of the carried part flows straight to (h_{t-1}, c_{t-1}).

    Memory kept for backward: gates (T, B, 4U), h and c (T+1, B, U) each, a(c_t) (T, B, U),
    and the time-major input (T, B, D).
    """

    n_states = 2

    def forward(self, x, kernel, rkernel, bias, h0, c0, mask=None, go_backwards=False, activation="tanh",
                recurrent_activation="sigmoid", zero_output_for_mask=False):
        self.params = dict(mask=mask, go_backwards=go_backwards, activation=activation,
                           recurrent_activation=recurrent_activation, zero_output_for_mask=zero_output_for_mask)
        xp = backend.xp
        B, T = self._prepare(x, mask, go_backwards)
        U = rkernel.shape[0]
        Z = self.xt.reshape(T * B, -1) @ kernel  # (T*B, 4U), overwritten in place by the activated gates
        Z += bias
        Z = Z.reshape(T, B, 4 * U)
        H = xp.empty((T + 1, B, U), dtype=x.dtype)
        C = xp.empty((T + 1, B, U), dtype=x.dtype)
        TC = xp.empty((T, B, U), dtype=x.dtype)
        H[0], C[0] = h0, c0
        fast = activation == "tanh" and recurrent_activation == "sigmoid"
        if fast:  # s(z) = 0.5 + 0.5 tanh(z / 2): all four gates with one tanh over the (B, 4U) block
            scale = xp.full(4 * U, 0.5, dtype=x.dtype)
            scale[2 * U:3 * U] = 1.0
            shift = 1.0 - scale
        m = self.m
        rec = xp.empty((B, 4 * U), dtype=x.dtype)
        tmp = xp.empty((B, U), dtype=x.dtype)
        for t in range(T):
            z = Z[t]
            xp.matmul(H[t], rkernel, out=rec)
            z += rec
            if fast:
                z *= scale
                xp.tanh(z, out=z)
                z *= scale
                z += shift
            else:
                _act(recurrent_activation, z[:, :2 * U])
                _act(activation, z[:, 2 * U:3 * U])
                _act(recurrent_activation, z[:, 3 * U:])
            i, f, g, o = z[:, :U], z[:, U:2 * U], z[:, 2 * U:3 * U], z[:, 3 * U:]
            c_new = C[t + 1] if m is None else xp.empty((B, U), dtype=x.dtype)
            xp.multiply(f, C[t], out=c_new)
            xp.multiply(i, g, out=tmp)
            c_new += tmp
            tc = TC[t]
            tc[...] = c_new
            _act(activation, tc)
            if m is None:
                xp.multiply(o, tc, out=H[t + 1])
            else:
                C[t + 1] = _masked(c_new, C[t], m[t])
                H[t + 1] = _masked(o * tc, H[t], m[t])
        self.G, self.H, self.C, self.TC = Z, H, C, TC
        new_out = Z[:, :, 3 * U:] * TC if (m is not None and zero_output_for_mask) else None
        return _seq_out(H[1:], new_out, m, zero_output_for_mask), H[T].copy(), C[T].copy()

    def _bptt(self, g_seq, g_h, g_c):
        xp = backend.xp
        rkernel = self.inputs[2].data
        G, H, C, TC, m = self.G, self.H, self.C, self.TC, self.m
        T, B, U4 = G.shape
        U = U4 // 4
        act, rec_act = self.params["activation"], self.params["recurrent_activation"]
        zero_out = self.params["zero_output_for_mask"]
        gy, (dh, dc) = self._grad_outputs(g_seq, (g_h, g_c))
        # derivative factors of every gate at every step, in one pass
        D = xp.empty_like(G)
        D[:, :, :2 * U] = _act_grad(rec_act, G[:, :, :2 * U])
        D[:, :, 2 * U:3 * U] = _act_grad(act, G[:, :, 2 * U:3 * U])
        D[:, :, 3 * U:] = _act_grad(rec_act, G[:, :, 3 * U:])
        OT = G[:, :, 3 * U:] * _act_grad(act, TC)  # o * a'(c_t)
        dZ = xp.empty_like(G)
        rkT = xp.ascontiguousarray(rkernel.T)
        for t in range(T - 1, -1, -1):
            if gy is not None and not (zero_out and m is not None):
                dh += gy[t]
            if m is None:
                dhn, dcn = dh, dc
            else:
                mf = self.mf[t]
                dhn, dcn = dh * mf, dc * mf
                if gy is not None and zero_out:
                    dhn += gy[t] * mf
                keep = 1 - mf
                dh_carry, dc_carry = dh * keep, dc * keep
            g_all = G[t]
            dz = dZ[t]
            xp.multiply(dhn, TC[t], out=dz[:, 3 * U:])
            dcn = dcn + dhn * OT[t]
            xp.multiply(dcn, g_all[:, 2 * U:3 * U], out=dz[:, :U])
            xp.multiply(dcn, C[t], out=dz[:, U:2 * U])
            xp.multiply(dcn, g_all[:, :U], out=dz[:, 2 * U:3 * U])
            dz *= D[t]
            dc = dcn * g_all[:, U:2 * U]
            dh = dz @ rkT
            if m is not None:
                dc += dc_carry
                dh += dh_carry
        return (self._finish_dx(dZ), self._weight_grad(self.xt, dZ), self._weight_grad(H[:-1], dZ),
                Tensor._wrap(dZ.sum(axis=(0, 1))), Tensor._wrap(dh), Tensor._wrap(dc))

    @staticmethod
    def reference(x, kernel, rkernel, bias, h0, c0, mask=None, go_backwards=False, activation="tanh",
                  recurrent_activation="sigmoid", zero_output_for_mask=False):
        """The same recurrence with differentiable Tensor ops, one step at a time."""
        U = rkernel.shape[0]

        def step(xp_t, states):
            h, c = states
            z = xp_t + matmul(h, rkernel)
            i = _act_tensor(recurrent_activation, z[:, :U])
            f = _act_tensor(recurrent_activation, z[:, U:2 * U])
            g = _act_tensor(activation, z[:, 2 * U:3 * U])
            o = _act_tensor(recurrent_activation, z[:, 3 * U:])
            c_new = f * c + i * g
            h_new = o * _act_tensor(activation, c_new)
            return h_new, [h_new, c_new]

        return _reference_loop(x, kernel, bias, [h0, c0], step, mask, go_backwards, zero_output_for_mask)
