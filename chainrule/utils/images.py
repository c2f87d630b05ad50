"""Image grids as PNG files: ``save_image_grid(images, path, nrow=8)``.

A batch of images (N, H, W), (N, H, W, C) with C = 1 or 3 (channels last, as the layers), or
(N, C, H, W) with ``data_format="channels_first"`` is tiled row by row into one picture with
``padding`` pixels of ``pad_value`` between the tiles. Values are read in [0, 1] (``value_range``
to change it; values outside are clipped) and written as 8-bit grey or RGB. Pillow writes the
file when it is installed (the ``plot`` extra); otherwise a minimal PNG encoder (one IDAT chunk
of zlib-compressed scanlines, filter type 0) does, so the core needs NumPy alone.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np


def _as_array(images) -> np.ndarray:
    data = getattr(images, "data", images)  # a Tensor's array
    return np.asarray(data)


def make_image_grid(images, nrow: int = 8, padding: int = 2, pad_value: float = 1.0, value_range=(0.0, 1.0),
                    data_format: str = "channels_last") -> np.ndarray:
    """The grid as a uint8 array (height, width) for grey images or (height, width, 3) for colour ones."""
    x = _as_array(images).astype(np.float64)
    if x.ndim == 3:
        x = x[..., None]
    elif x.ndim == 4 and data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    elif x.ndim != 4:
        raise ValueError(f"save_image_grid: expected a batch of images of shape (N, H, W) or (N, H, W, C), got "
                         f"an array of shape {x.shape}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"save_image_grid: data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    n, h, w, c = x.shape
    if c not in (1, 3):
        raise ValueError(f"save_image_grid: images must have 1 or 3 channels, got shape {x.shape} "
                         "(channels_first data needs data_format='channels_first')")
    if n == 0:
        raise ValueError("save_image_grid: no images to draw (the batch is empty)")
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"save_image_grid: nrow (images per row) must be a positive integer, got {nrow!r}")
    if padding < 0:
        raise ValueError(f"save_image_grid: padding must be >= 0, got {padding}")
    lo, hi = float(value_range[0]), float(value_range[1])
    if not hi > lo:
        raise ValueError(f"save_image_grid: value_range must be (low, high) with high > low, got {value_range}")
    x = np.clip((np.nan_to_num(x, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
    cols = min(int(nrow), n)
    rows = -(-n // cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c),
                   np.clip(pad_value, 0.0, 1.0))
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[top:top + h, left:left + w] = x[i]
    out = np.round(grid * 255).astype(np.uint8)
    return out[..., 0] if c == 1 else out


def write_png(pixels: np.ndarray, path) -> None:
    """Write a uint8 array (H, W) grey or (H, W, 3) RGB as a PNG file (Pillow if installed, else zlib)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"write_png: expected (H, W) or (H, W, 3) pixels, got shape {pixels.shape}")
    path = os.fspath(path)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        Image.fromarray(pixels).save(path, format="PNG", optimize=True)
        return
    with open(path, "wb") as f:
        f.write(encode_png(pixels))


def encode_png(pixels: np.ndarray) -> bytes:
    """The bytes of a PNG of 8-bit grey (H, W) or RGB (H, W, 3) pixels: signature, IHDR, IDAT, IEND."""
    h, w = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = pixels.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter byte 0 per scanline
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def save_image_grid(images, path, nrow: int = 8, padding: int = 2, pad_value: float = 1.0, value_range=(0.0, 1.0),
                    data_format: str = "channels_last") -> np.ndarray:
    """Tile ``images`` into a grid of ``nrow`` images per row and write it to ``path`` as a PNG.

    Returns the grid's uint8 pixels. See ``make_image_grid`` for the shapes and value range.
    """
    grid = make_image_grid(images, nrow, padding, pad_value, value_range, data_format)
    write_png(grid, path)
    return grid


__all__ = ["encode_png", "make_image_grid", "save_image_grid", "write_png"]
