"""The ``chainrule`` command.

    chainrule train RECIPE [--epochs N] [--batch-size B] [--seed S] [--verbose 0|1|2|auto] [--save PATH] [--processes N]
    chainrule evaluate PATH [--dataset mnist|fashion_mnist] [--batch-size B]
    chainrule sample MODEL [--n 64] [--out grid.png] [--seed S]
    chainrule recipes
    chainrule generate MODEL [--prompt TEXT] [--length N] [--temperature T] [--top-k K] [--seed S]

``chainrule train --help`` lists the recipes (``chainrule/recipes.py``) with one line each.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap


def _train(args) -> int:
    from . import recipes

    recipe = recipes.get(args.recipe)
    processes = _data_parallel(args)
    if processes is None:  # the launching process: start mpiexec, which runs this command N times
        from .distributed import launch

        return launch.run_cli_processes(args.processes, args.argv)
    args.data_parallel = processes
    return recipe.run(args)


def _data_parallel(args):
    """``--processes N``: None in the launching process (start mpiexec); in each started process,
    join the group (rank 0 alone prints) and return N; 1 without the option."""
    if args.processes is None or args.processes == 1:
        return 1
    if args.processes < 1:
        raise ValueError(f"--processes must be a positive integer, got {args.processes}")
    import chainrule.distributed as crd

    if not crd.launched_by_mpi():
        return None
    crd.init()
    if crd.rank() != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    return crd.size()


def _evaluate(args) -> int:
    from . import recipes
    from .models import load_model

    model = load_model(args.path)
    _, (x_test, y_test) = recipes.load_images(args.dataset, "image")
    declared = getattr(model, "input_shape", None)
    if declared is not None and len(declared) > 1 and None not in declared[1:]:
        per_sample = tuple(int(d) for d in declared[1:])
        if math.prod(per_sample) != math.prod(x_test.shape[1:]):
            raise ValueError(f"evaluate: the model takes inputs of shape {per_sample}, but {args.dataset} "
                             f"images are {x_test.shape[1:]}")
        x_test = x_test.reshape((-1,) + per_sample)
    if not getattr(model, "compiled_loss", None):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    result = model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0)
    loss, acc = (result[0], result[1]) if isinstance(result, (list, tuple)) else (result, float("nan"))
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")
    return 0


def _list(_args) -> int:
    from . import recipes

    print(recipes.table())
    return 0


def _sample(args) -> int:
    from .generative.mnist import sample

    sample(args.model, n=args.n, out=args.out, seed=args.seed)
    print(f"wrote {args.n} images to {args.out}")
    return 0


def _generate(args) -> int:
    from .generation import generate_text, load_for_generation

    model, vocab = load_for_generation(args.model)
    print(generate_text(model, vocab, args.prompt, length=args.length, temperature=args.temperature,
                        top_k=args.top_k, seed=args.seed))
    return 0


def _verbose(value: str):
    """``--verbose``: 0, 1, 2 or auto."""
    if value == "auto":
        return "auto"
    if value in ("0", "1", "2"):
        return int(value)
    raise argparse.ArgumentTypeError(f"must be 0, 1, 2 or auto, got {value!r}")


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return n


def _seed(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The command line (other commands register their subparser here)."""
    from . import recipes

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="chainrule", formatter_class=raw,
        description="Train and evaluate chainrule models.",
        epilog="Run `chainrule COMMAND --help` for a command's options.\n"
               "Example: chainrule train texts-cnn --epochs 10 --save cnn.safetensors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    epilog = f"recipes (name, what it trains, its default epochs and batch size):\n{recipes.table()}"
    if recipes.DEPRECATED_NAMES:
        old = ", ".join(f"{o} -> {n}" for o, n in sorted(recipes.DEPRECATED_NAMES.items()))
        epilog += "\n\nold names, still accepted with a notice:\n" + textwrap.fill(old, 100, initial_indent="  ",
                                                                                 subsequent_indent="  ")
    t = sub.add_parser(
        "train", help="train a recipe and print its test accuracy", formatter_class=raw,
        description="Train one of the ready-made recipes (a model, its data and its settings) and print\n"
                    "its test loss and accuracy.", epilog=epilog)
    t.add_argument("recipe", metavar="RECIPE", help="the recipe to train (listed below)")
    t.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                   help="passes over the training data (default: the recipe's, listed below)")
    t.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                   help="samples per training step (default: the recipe's, listed below)")
    t.add_argument("--seed", type=_seed, default=0, metavar="S",
                   help="random seed for the weights, dropout and shuffling (default: 0)")
    t.add_argument("--verbose", type=_verbose, default="auto", metavar="{0,1,2,auto}",
                   help="0 silent, 1 live progress bar with ETA, 2 one line per epoch; auto picks 1 when the "
                        "output is a terminal and 2 otherwise (default: auto)")
    t.add_argument("--save", default=None, metavar="PATH",
                   help="save the trained model to this file (default: not saved)")
    t.add_argument("--processes", type=_positive_int, default=None, metavar="N",
                   help="train data-parallel on N processes (starts mpiexec; needs chainrule[mpi]); the batch "
                        "size stays the recipe's, split among the processes (default: one process)")
    t.add_argument("--minutes", type=float, default=None, metavar="M",
                   help="GAN recipes: stop training after this many minutes (default: the recipe's, 30)")
    t.add_argument("--grid", default=None, metavar="PNG",
                   help="GAN recipes: write 64 generated images to this PNG (default: none)")
    t.add_argument("--steps", type=_positive_int, default=None, metavar="N",
                   help="character-model recipes: training steps instead of epochs (default: the recipe's)")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help="evaluate a saved model on a test set",
                       description="Load a model saved by `chainrule train --save` (or model.save) and print its "
                                   "test loss and accuracy.")
    e.add_argument("path", metavar="PATH", help="the saved model")
    e.add_argument("--dataset", default="mnist", metavar="NAME",
                   help="the test set: mnist or fashion_mnist (default: mnist)")
    e.add_argument("--batch-size", type=_positive_int, default=256, metavar="B",
                   help="samples per evaluation step (default: 256)")
    e.set_defaults(func=_evaluate)
    s = sub.add_parser("sample", help="write a grid of images from a saved generator or VAE decoder",
                       description="Load a saved generator or VAE decoder (latent vector -> image), a GAN or a VAE, "
                                   "and write a grid of generated images as a PNG.")
    s.add_argument("model", metavar="MODEL", help="a saved generator/decoder, GAN or VAE")
    s.add_argument("--n", type=_positive_int, default=64, metavar="N", help="number of images (default: 64)")
    s.add_argument("--out", default="grid.png", metavar="PNG", help="the PNG to write (default: grid.png)")
    s.add_argument("--seed", type=_seed, default=None, metavar="S",
                   help="random seed for the latent vectors (default: not seeded)")
    s.set_defaults(func=_sample)
    r = sub.add_parser("recipes", help="list the training recipes",
                       description="List the recipes `chainrule train` knows, with their default settings.")
    r.set_defaults(func=_list)
    g = sub.add_parser("generate", help="sample text from a saved character model (and its .vocab.json)",
                       description="Load a character model saved by `chainrule train lstm-shakespeare --save PATH` "
                                   "(or gpt-shakespeare) with its vocabulary, and print generated text.")
    g.add_argument("model", metavar="MODEL", help="the saved model (its vocabulary is MODEL.vocab.json)")
    g.add_argument("--prompt", default="ROMEO:", metavar="TEXT", help="the text to continue (default: ROMEO:)")
    g.add_argument("--length", type=_positive_int, default=500, metavar="N",
                   help="characters to generate (default: 500)")
    g.add_argument("--temperature", type=float, default=0.8, metavar="T",
                   help="sampling temperature; 0 is greedy (default: 0.8)")
    g.add_argument("--top-k", type=_positive_int, default=None, metavar="K",
                   help="sample among the K most likely characters only (default: all)")
    g.add_argument("--seed", type=_seed, default=None, metavar="S", help="random seed (default: not seeded)")
    g.set_defaults(func=_generate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"chainrule: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
