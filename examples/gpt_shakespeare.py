"""A character-level GPT on Tiny Shakespeare (nanoGPT's shakespeare_char), trained with chainrule.

    logits = GPT(ids);  loss = mean_t -log softmax(logits_t)[next char_t]

Default: nanoGPT's published CPU configuration (4 layers x 4 heads x 128, block 64, batch 12,
2,000 iterations; nanoGPT reports 1.88 validation loss on 20 random batches). ``--config
gpt-shakespeare`` runs chainrule's own 30-minute recipe. Prints the loss on the full validation
split, the training time and a sample. The configurations live in ``chainrule/gpt_recipe.py``.

    python examples/gpt_shakespeare.py [--config nanogpt-cpu|gpt-shakespeare] [--seed 0] [--iters N]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chainrule import gpt_recipe  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="nanogpt-cpu", choices=sorted(gpt_recipe.CONFIGS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iters", type=int, default=None, help="iterations (default: the configuration's)")
    p.add_argument("--quick", action="store_true", help="smoke test: 20 iterations")
    p.add_argument("--save", default=None, help="save the model (and <path>.vocab.json) here")
    p.add_argument("--sample-length", type=int, default=300)
    args = p.parse_args(argv)
    iters = 20 if args.quick else args.iters
    info = gpt_recipe.train_recipe(args.config, seed=args.seed, save=args.save, max_iters=iters,
                                   sample_length=args.sample_length)
    print(f"result: config {args.config} seed {args.seed}: validation loss {info['val_loss']:.4f}, "
          f"{info['iterations']} iterations in {info['train_seconds']:.1f} s")


if __name__ == "__main__":
    main()
