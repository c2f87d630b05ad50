"""The PyTorch twin of ``gpt_shakespeare.py``: the same GPT, data, schedule and evaluation in PyTorch,
for timing side by side (run it in its own process, one thread: ``torch.set_num_threads(1)``).

    python examples/gpt_shakespeare_torch.py [--config nanogpt-cpu] [--seed 0] [--threads 1]
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as TF

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chainrule import gpt_recipe  # noqa: E402
from chainrule.data.text import char_windows, random_windows  # noqa: E402


class Block(nn.Module):
    def __init__(self, n_embd, n_head, n_layer, bias):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.mlp_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(TF.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, cfg):
        super().__init__()
        self.wte = nn.Embedding(vocab, cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["block_size"], cfg["n_embd"])
        self.h = nn.ModuleList(Block(cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["bias"])
                               for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(cfg["n_embd"], bias=cfg["bias"])
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * cfg["n_layer"]) if name.endswith("c_proj.weight") or \
                    name.endswith("mlp_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.T


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="nanogpt-cpu", choices=sorted(gpt_recipe.CONFIGS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iters", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = gpt_recipe.CONFIGS[args.config]
    vocab, train_ids, val_ids = gpt_recipe.load_shakespeare()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = GPT(vocab.size, cfg)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg["learning_rate"],
                            betas=(0.9, cfg["beta_2"]))
    lr0, lrmin, warm, total = cfg["learning_rate"], cfg["min_lr"], cfg["warmup_iters"], cfg["lr_decay_iters"]

    def lr_at(it):  # nanoGPT's get_lr
        if it < warm:
            return lr0 * (it + 1) / (warm + 1)
        if it > total:
            return lrmin
        ratio = (it - warm) / (total - warm)
        return lrmin + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr0 - lrmin)

    iters = cfg["max_iters"] if args.iters is None else args.iters
    start = time.perf_counter()
    for it in range(iters):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = random_windows(train_ids, cfg["block_size"], cfg["batch_size"], rng)
        logits = model(torch.from_numpy(x))
        loss = TF.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        if it % 200 == 0 or it == iters - 1:
            print(f"iter {it:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:7.1f} s", flush=True)
    seconds = time.perf_counter() - start
    xv, yv = char_windows(val_ids, cfg["block_size"])
    total_loss = 0.0
    with torch.no_grad():
        for i in range(0, len(xv), 128):
            lg = model(torch.from_numpy(xv[i:i + 128]))
            total_loss += TF.cross_entropy(lg.reshape(-1, lg.shape[-1]), torch.from_numpy(yv[i:i + 128]).reshape(-1),
                                           reduction="sum").item()
    print(f"result: PyTorch twin, config {args.config} seed {args.seed}: validation loss "
          f"{total_loss / yv.size:.4f}, {iters} iterations in {seconds:.1f} s "
          f"({seconds / iters * 1000:.0f} ms/iteration, {args.threads} thread)")


if __name__ == "__main__":
    main()
