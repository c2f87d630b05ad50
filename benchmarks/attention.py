"""Attention workloads side by side with PyTorch: a GPT training step and a Transformer encoder block.

* ``gpt_step``: one training step (forward, cross-entropy, backward, AdamW with global-norm
  clipping) of nanoGPT's CPU configuration: 4 layers, 4 heads, width 128, block 64, batch 12,
  vocabulary 65, no biases, tied embeddings.
* ``encoder_block``: forward + backward of one post-norm ``TransformerEncoder`` (batch 32,
  64 tokens, width 128, 4 heads, feed-forward 256), PyTorch's ``nn.TransformerEncoderLayer``
  as the twin.

Both libraries run in this one process with one thread each (``torch.set_num_threads(1)``,
OpenBLAS with one thread via ``longrun``), timed alternately, in rounds; the table gives the
median ms per step and the ratio chainrule / PyTorch (target <= 2.0). ``--profile`` adds
cProfile's top functions of the chainrule GPT step.

    longrun python benchmarks/attention.py [--rounds 5] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gpt_pair(torch):
    import chainrule as cr
    from chainrule import functional as F
    from chainrule.models.gpt import GPT

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    from gpt_shakespeare_torch import GPT as TorchGPT

    cfg = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, bias=False)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 65, (12, 64)), rng.integers(0, 65, (12, 64))
    cr.manual_seed(0)
    model = GPT(65, 64, 4, 4, 128)
    opt = cr.optimizers.AdamW(1e-3, weight_decay=0.1, beta_2=0.99, epsilon=1e-8, global_clipnorm=1.0)

    def cr_step():
        loss = F.sparse_categorical_crossentropy(y, model(x, training=True), from_logits=True).mean()
        weights = model.trainable_weights
        opt.apply(cr.grad(loss, weights), weights)

    tmodel = TorchGPT(65, cfg)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def th_step():
        logits = tmodel(tx)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 65), ty.reshape(-1))
        topt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 1.0)
        topt.step()

    return cr_step, th_step


def encoder_pair(torch):
    import chainrule as cr
    from chainrule import layers

    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 64, 128)).astype(np.float32)
    enc = layers.TransformerEncoder(256, 4)
    xc = cr.tensor(x, requires_grad=True)
    enc(xc)

    def cr_step():
        out = enc(xc, training=True)
        cr.grad(out.sum(), [xc] + enc.trainable_weights)

    tl = torch.nn.TransformerEncoderLayer(128, 4, 256, dropout=0.0, batch_first=True)
    xt = torch.tensor(x, requires_grad=True)

    def th_step():
        out = tl(xt)
        torch.autograd.grad(out.sum(), [xt] + list(tl.parameters()))

    return cr_step, th_step


def time_pair(cr_fn, th_fn, rounds, seconds):
    for f in (cr_fn, th_fn, cr_fn, th_fn):
        f()
    res = {"chainrule": [], "pytorch": []}
    for _ in range(rounds):
        for name, f in (("chainrule", cr_fn), ("pytorch", th_fn)):
            n, start = 0, time.perf_counter()
            while True:
                f()
                n += 1
                el = time.perf_counter() - start
                if el >= seconds:
                    break
            res[name].append(el / n * 1000)
    return {k: float(np.median(v)) for k, v in res.items()}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0, help="seconds per library per round")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    print(f"{'workload':<16}{'chainrule ms':>14}{'pytorch ms':>12}{'ratio':>8}  target")
    pairs = {"gpt_step": gpt_pair(torch), "encoder_block": encoder_pair(torch)}
    for name, (c, t) in pairs.items():
        r = time_pair(c, t, args.rounds, args.seconds)
        print(f"{name:<16}{r['chainrule']:>14.1f}{r['pytorch']:>12.1f}{r['chainrule'] / r['pytorch']:>8.2f}  <= 2.0",
              flush=True)
    if args.profile:
        c = pairs["gpt_step"][0]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(20):
            c()
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
        print("chainrule GPT step, 20 steps, by own time:\n" + s.getvalue())


if __name__ == "__main__":
    main()
