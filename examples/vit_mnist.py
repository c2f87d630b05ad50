"""A Vision Transformer (Dosovitskiy et al., 2021) on MNIST: 7x7 patches as tokens.

    patches = the 16 non-overlapping 7x7 patches of a 28x28 digit, each flattened to 49 numbers
    x_0     = patches @ W_embed + P                    (16 tokens of width 64, learned positions P)
    x_l+1   = TransformerEncoder(x_l)                  (pre-norm, 4 heads, GELU, 4 blocks)
    logits  = Dense(10)(LN(mean over tokens of x_L))   (mean pooling instead of a class token)

Trained with Adam and a cosine-decayed learning rate. At the end it draws the attention
weights of one head of the first block for one test digit (``--png``, default
``examples/vit_attention.png``): the digit cut into its patches, and the 16 x 16 matrix of
how much each patch (row) attends to each other patch (column).

    python examples/vit_mnist.py [--quick] [--epochs N] [--seed S] [--png PATH]
"""
import os
import struct
import sys
import zlib

import numpy as np

from _common import EpochTimer, epochs_for, first, make_parser

import chainrule as cr
from chainrule import layers, recipes
from chainrule.ops.shape import reshape, transpose

PATCH = 7


class ViT(cr.Model):
    def __init__(self, width=64, depth=4, heads=4, mlp_dim=128, num_classes=10, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.width, self.depth = width, depth
        self.patch_embedding = layers.Dense(width, name="patch_embedding")
        self.position_embedding = layers.PositionEmbedding((28 // PATCH) ** 2, name="position_embedding")
        self.blocks = [layers.TransformerEncoder(mlp_dim, heads, dropout=dropout, activation="gelu",
                                                 normalize_first=True, name=f"encoder_{i}") for i in range(depth)]
        self.norm = layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.head = layers.Dense(num_classes, name="head")

    @staticmethod
    def patches(x):
        """(batch, 28, 28, 1) -> (batch, 16, 49): row-major 7x7 patches."""
        n = 28 // PATCH
        x = x if isinstance(x, cr.Tensor) else cr.tensor(x)
        x = reshape(x, (x.shape[0], n, PATCH, n, PATCH))
        x = transpose(x, (0, 1, 3, 2, 4))
        return reshape(x, (x.shape[0], n * n, PATCH * PATCH))

    def call(self, x, training=False):
        h = self.patch_embedding(self.patches(x))
        h = h + self.position_embedding(h)
        for block in self.blocks:
            h = block(h, training=training)
        return self.head(self.norm(h.mean(axis=1)))

    def first_block_attention(self, x):
        """The attention weights (batch, heads, 16, 16) of the first encoder block."""
        h = self.patch_embedding(self.patches(x))
        h = h + self.position_embedding(h)
        _, scores = self.blocks[0](h, return_attention_scores=True)
        return scores.numpy()


def write_png(path, image):
    """Write a (H, W) or (H, W, 3) uint8 array as a PNG (Pillow if installed, else zlib by hand)."""
    try:
        from PIL import Image

        Image.fromarray(image).save(path, optimize=True)
        return
    except ImportError:
        pass
    h, w = image.shape[:2]
    color = 2 if image.ndim == 3 else 0
    raw = b"".join(b"\x00" + image[r].tobytes() for r in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def attention_picture(digit, weights, scale=8):
    """The digit with its patch grid (left) beside the 16x16 attention matrix (right), as uint8 RGB."""
    img = np.repeat(np.repeat((digit[..., 0] * 255).astype(np.uint8), scale, 0), scale, 1)
    img = np.stack([img] * 3, -1)
    img[::PATCH * scale] = (200, 60, 60)
    img[:, ::PATCH * scale] = (200, 60, 60)
    cell = 28 * scale // 16
    w = weights / weights.max()
    att = np.repeat(np.repeat((w * 255).astype(np.uint8), cell, 0), cell, 1)
    att = np.stack([att, (att * 0.6).astype(np.uint8), 255 - att], -1)  # blue (0) to orange (max)
    gap = np.full((img.shape[0], 8, 3), 255, np.uint8)
    return np.concatenate([img, gap, att], axis=1)


def main():
    parser = make_parser("A Vision Transformer on MNIST", quick_help="2,000 images, 1 epoch", epochs=10,
                         batch_size=128)
    parser.add_argument("--png", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "vit_attention.png"))
    args = parser.parse_args()
    cr.manual_seed(args.seed)
    data = recipes.load_images("mnist", "image")
    if args.quick:
        data = first(data, 2000, 1000)
    (x_train, y_train), (x_test, y_test) = data
    epochs = epochs_for(args, 10)
    steps = epochs * -(-len(x_train) // args.batch_size)
    model = ViT()
    from chainrule.optimizers import Adam
    from chainrule.optimizers.schedules import CosineDecay, warmup

    opt = Adam(learning_rate=warmup(CosineDecay(2e-3, max(1, steps - 200), alpha=0.01), 200))
    model.compile(optimizer=opt, loss=cr.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=args.batch_size, verbose=2, callbacks=[timer])
    loss, acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"parameters: {model.count_params():,}")
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")
    print(f"seconds per epoch: {np.mean(timer.seconds):.1f} (total {np.sum(timer.seconds):.1f} s)")
    with cr.no_grad():
        weights = model.first_block_attention(x_test[:1])
    write_png(args.png, attention_picture(x_test[0], weights[0, 0]))
    print(f"attention of head 0, block 0, for a test '{y_test[0]}' written to {args.png}")


if __name__ == "__main__":
    sys.exit(main())
