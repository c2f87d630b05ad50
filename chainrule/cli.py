"""The ``chainrule`` command.

    chainrule train RECIPE [--epochs N] [--batch-size B] [--save PATH] [--seed S] [--verbose V]
    chainrule evaluate PATH --dataset mnist|fashion_mnist [--batch-size B]
    chainrule recipes
    chainrule generate MODEL [--prompt TEXT] [--length N] [--temperature T] [--top-k K] [--seed S]
"""
from __future__ import annotations

import argparse
import math
import sys
import time


def _train(args) -> int:
    from . import backend, char_lm, recipes

    if args.recipe in char_lm.RECIPES:  # a text model: its own data and loop (chainrule/char_lm.py)
        return char_lm.run_from_cli(args)
    recipe = recipes.get(args.recipe)
    if args.seed is not None:
        backend.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = recipes.load_images(recipe.dataset, recipe.image_layout)
    model = recipe.build()
    epochs = args.epochs if args.epochs is not None else recipe.epochs
    batch_size = args.batch_size if args.batch_size is not None else recipe.batch_size
    model.compile(optimizer=recipe.make_optimizer(epochs, len(x_train), batch_size), loss=recipe.loss,
                  metrics=["accuracy"])
    print(f"recipe {recipe.name}: {recipe.description}")
    print(f"training on {len(x_train)} {recipe.dataset} images for {epochs} epoch(s), batch size {batch_size}")
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"trained in {seconds:.1f} s ({seconds / max(epochs, 1):.1f} s/epoch)")
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return 0


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

    for name, r in sorted(recipes.RECIPES.items()):
        print(f"{name:12s} {r.description} ({r.epochs} epochs, batch {r.batch_size})")
    from . import char_lm

    for name, r in sorted(char_lm.RECIPES.items()):
        print(f"{name:12s} {r.description} ({r.steps} steps, batch {r.batch_size})")
    return 0


def _generate(args) -> int:
    from .generation import generate_text, load_for_generation

    model, vocab = load_for_generation(args.model)
    print(generate_text(model, vocab, args.prompt, length=args.length, temperature=args.temperature,
                        top_k=args.top_k, seed=args.seed))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule", description="Train and evaluate chainrule models.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a recipe and print its test accuracy")
    t.add_argument("recipe", help="a recipe name (see `chainrule recipes`)")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--save", default=None, help="save the trained model to this file")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    t.add_argument("--steps", type=int, default=None, help="training steps (character-model recipes)")
    t.set_defaults(func=_train)
    e = sub.add_parser("evaluate", help="evaluate a saved model on a test set")
    e.add_argument("path")
    e.add_argument("--dataset", default="mnist")
    e.add_argument("--batch-size", type=int, default=256)
    e.set_defaults(func=_evaluate)
    r = sub.add_parser("recipes", help="list the training recipes")
    r.set_defaults(func=_list)
    g = sub.add_parser("generate", help="sample text from a saved character model (and its .vocab.json)")
    g.add_argument("model", help="a model saved by `chainrule train lstm-shakespeare --save PATH`")
    g.add_argument("--prompt", default="ROMEO:")
    g.add_argument("--length", type=int, default=500)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--seed", type=int, default=None)
    g.set_defaults(func=_generate)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"chainrule: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
