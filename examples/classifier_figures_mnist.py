"""The reference figures for measuring MNIST generators: real training images against the test images.

The classifier score and the Fréchet classifier distance (chainrule/generative/measures.py) of
real images, through the texts' CNN (trained once, 10 epochs, and cached in ~/.chainrule/models),
are what a perfect generator would reach: the first 10,000 training images (the size of a
generated set) and all 60,000, each against the 10,000 test images.

Run:  python examples/classifier_figures_mnist.py
"""
from __future__ import annotations

from chainrule import recipes
from chainrule.generative.mnist import load_classifier, measure


def main() -> None:
    (x_train, _), (x_test, _) = recipes.load_images("mnist", "image")
    classifier = load_classifier()
    for n in (10000, 60000):
        figures = measure(x_train[:n], x_test, classifier)
        print(f"{n} real training images vs the 10,000 test images: classifier score "
              f"{figures['classifier_score']:.3f}, Frechet classifier distance {figures['frechet_distance']:.3f}")
    test = measure(x_test, x_test, classifier)
    print(f"the test images themselves: classifier score {test['classifier_score']:.3f}")


if __name__ == "__main__":
    main()
