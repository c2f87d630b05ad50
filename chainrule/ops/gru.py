"""The GRU over a whole sequence as one Function (Keras's gate layout z, r, h).

See ``ops/recurrent.py`` for the shared conventions (time order, masks, second order).
"""
from __future__ import annotations

from .. import backend
from ..autograd.tensor import Tensor
from .linalg import matmul
from .recurrent import _act, _act_grad, _act_tensor, _masked, _reference_loop, _seq_out, _Sequence


class GRUSequence(_Sequence):
    """GRU, Keras's two formulas (s: recurrent_activation, a: activation, blocks z, r, h):

    reset_after=True (Keras 3's default, PyTorch's formula), bias (2, 3U) = (input, recurrent):
        x_z, x_r, x_h = x_t W + b_in;      q_z, q_r, q_h = h_{t-1} U + b_rec
        z = s(x_z + q_z),  r = s(x_r + q_r),  hh = a(x_h + r * q_h)
    reset_after=False, bias (3U,):
        z = s(x_z + h_{t-1} U_z),  r = s(x_r + h_{t-1} U_r),  hh = a(x_h + (r * h_{t-1}) U_h)
    then h_t = z * h_{t-1} + (1 - z) * hh.

    Backward through time, dh_t the total gradient reaching h_t:
        dhh = dh_t (1 - z),  dz = dh_t (h_{t-1} - hh),  da_h = dhh a'(.),  da_z = dz s'(z)
        reset_after=True:  dq_h = da_h * r,  dr = da_h * q_h,  da_r = dr s'(r)
                           dh_{t-1} = dh_t z + (da_z, da_r, dq_h) U^T
                           dU = sum_t h_{t-1}^T (da_z, da_r, dq_h);  db_rec = sum_t (da_z, da_r, dq_h)
        reset_after=False: d(rh) = da_h U_h^T,  dr = d(rh) * h_{t-1},  da_r = dr s'(r)
                           dh_{t-1} = dh_t z + d(rh) * r + (da_z, da_r) U_zr^T
                           dU_zr = sum_t h_{t-1}^T (da_z, da_r);  dU_h = sum_t (r h_{t-1})^T da_h
        dW = sum_t x_t^T (da_z, da_r, da_h),  db_in = sum_t (da_z, da_r, da_h),  dx_t = (...) W^T.

    Memory kept for backward: gates (T, B, 3U), h (T+1, B, U), q_h or r*h (T, B, U), and the
    time-major input (T, B, D).
    """

    def forward(self, x, kernel, rkernel, bias, h0, mask=None, go_backwards=False, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True, zero_output_for_mask=False):
        self.params = dict(mask=mask, go_backwards=go_backwards, activation=activation,
                           recurrent_activation=recurrent_activation, reset_after=reset_after,
                           zero_output_for_mask=zero_output_for_mask)
        xp = backend.xp
        B, T = self._prepare(x, mask, go_backwards)
        U = rkernel.shape[0]
        if reset_after:
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in, b_rec = bias, None
        X = self.xt.reshape(T * B, -1) @ kernel
        X += b_in
        X = X.reshape(T, B, 3 * U)  # overwritten in place by the activated z, r, hh
        H = xp.empty((T + 1, B, U), dtype=x.dtype)
        H[0] = h0
        Q = xp.empty((T, B, U), dtype=x.dtype)  # q_h (reset_after) or r * h_{t-1}
        rk_zr = rkernel[:, :2 * U]
        rk_h = rkernel[:, 2 * U:]
        m = self.m
        hnew = xp.empty((T, B, U), dtype=x.dtype) if (m is not None and zero_output_for_mask) else None
        for t in range(T):
            g = X[t]
            h = H[t]
            zr = g[:, :2 * U]
            hh = g[:, 2 * U:]
            if reset_after:
                q = h @ rkernel
                q += b_rec
                zr += q[:, :2 * U]
                _act(recurrent_activation, zr)
                Q[t] = q[:, 2 * U:]
                hh += g[:, U:2 * U] * Q[t]
            else:
                zr += h @ rk_zr
                _act(recurrent_activation, zr)
                xp.multiply(g[:, U:2 * U], h, out=Q[t])
                hh += Q[t] @ rk_h
            _act(activation, hh)
            h_new = h - hh
            h_new *= g[:, :U]
            h_new += hh  # hh + z (h_{t-1} - hh)
            H[t + 1] = h_new if m is None else _masked(h_new, h, m[t])
            if hnew is not None:
                hnew[t] = h_new
        self.G, self.H, self.Q = X, H, Q
        return _seq_out(H[1:], hnew, m, zero_output_for_mask), H[T].copy()

    def _bptt(self, g_seq, g_h):
        xp = backend.xp
        rkernel = self.inputs[2].data
        G, H, Q, m = self.G, self.H, self.Q, self.m
        T, B, U3 = G.shape
        U = U3 // 3
        act, rec_act = self.params["activation"], self.params["recurrent_activation"]
        reset_after = self.params["reset_after"]
        zero_out = self.params["zero_output_for_mask"]
        gy, (dh,) = self._grad_outputs(g_seq, (g_h,))
        Z, R, HH = G[:, :, :U], G[:, :, U:2 * U], G[:, :, 2 * U:]
        Dz = _act_grad(rec_act, Z)
        Dr = _act_grad(rec_act, R)
        Dh = _act_grad(act, HH)
        one_minus_z_Dh = (1 - Z) * Dh
        dX = xp.empty_like(G)  # gradient of the input projections (da_z, da_r, da_h)
        dQ = xp.empty_like(G) if reset_after else None  # (da_z, da_r, dq_h)
        rkT = xp.ascontiguousarray(rkernel.T)
        rk_zrT = xp.ascontiguousarray(rkernel[:, :2 * U].T)
        rk_hT = xp.ascontiguousarray(rkernel[:, 2 * U:].T)
        for t in range(T - 1, -1, -1):
            if gy is not None and not (zero_out and m is not None):
                dh += gy[t]
            if m is None:
                dhn = dh
            else:
                mf = self.mf[t]
                dhn = dh * mf
                if gy is not None and zero_out:
                    dhn += gy[t] * mf
                dh_carry = dh * (1 - mf)
            h = H[t]
            dx = dX[t]
            xp.multiply(dhn, h - HH[t], out=dx[:, :U])
            dx[:, :U] *= Dz[t]
            da_h = xp.multiply(dhn, one_minus_z_Dh[t], out=dx[:, 2 * U:])
            if reset_after:
                dq = dQ[t]
                xp.multiply(da_h, Q[t], out=dx[:, U:2 * U])
                dx[:, U:2 * U] *= Dr[t]
                dq[:, :2 * U] = dx[:, :2 * U]
                xp.multiply(da_h, R[t], out=dq[:, 2 * U:])
                dh_prev = dq @ rkT
            else:
                drh = da_h @ rk_hT
                xp.multiply(drh, h, out=dx[:, U:2 * U])
                dx[:, U:2 * U] *= Dr[t]
                dh_prev = dx[:, :2 * U] @ rk_zrT
                dh_prev += drh * R[t]
            dh_prev += dhn * Z[t]
            if m is not None:
                dh_prev += dh_carry
            dh = dh_prev
        dW = self._weight_grad(self.xt, dX)
        db_in = dX.sum(axis=(0, 1))
        if reset_after:
            dU = self._weight_grad(H[:-1], dQ)
            db = Tensor._wrap(xp.stack([db_in, dQ.sum(axis=(0, 1))]))
        else:
            dU = xp.empty_like(rkernel)
            dU[:, :2 * U] = self._weight_grad(H[:-1], dX[:, :, :2 * U]).data
            dU[:, 2 * U:] = self._weight_grad(Q, dX[:, :, 2 * U:]).data
            dU = Tensor._wrap(dU)
            db = Tensor._wrap(db_in)
        return self._finish_dx(dX), dW, dU, db, Tensor._wrap(dh)

    @staticmethod
    def reference(x, kernel, rkernel, bias, h0, mask=None, go_backwards=False, activation="tanh",
                  recurrent_activation="sigmoid", reset_after=True, zero_output_for_mask=False):
        """The same recurrence with differentiable Tensor ops, one step at a time."""
        U = rkernel.shape[0]
        b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, None)

        def step(xp_t, states):
            (h,) = states
            if reset_after:
                q = matmul(h, rkernel) + b_rec
                z = _act_tensor(recurrent_activation, xp_t[:, :U] + q[:, :U])
                r = _act_tensor(recurrent_activation, xp_t[:, U:2 * U] + q[:, U:2 * U])
                hh = _act_tensor(activation, xp_t[:, 2 * U:] + r * q[:, 2 * U:])
            else:
                q = matmul(h, rkernel[:, :2 * U])
                z = _act_tensor(recurrent_activation, xp_t[:, :U] + q[:, :U])
                r = _act_tensor(recurrent_activation, xp_t[:, U:2 * U] + q[:, U:])
                hh = _act_tensor(activation, xp_t[:, 2 * U:] + matmul(r * h, rkernel[:, 2 * U:]))
            h_new = z * h + (1 - z) * hh
            return h_new, [h_new]

        return _reference_loop(x, kernel, b_in, [h0], step, mask, go_backwards, zero_output_for_mask)
