"""cr.utils.save_image_grid (Pillow or the built-in PNG encoder) and cr.utils.plot_history."""
import struct
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils import images as images_mod


def _decode_png(data: bytes) -> np.ndarray:
    """A reader for the PNGs encode_png writes (8-bit grey or RGB, filter 0): the test's own reference."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, _, colour, _, _, _ = header
    channels = 1 if colour == 0 else 3
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * channels)
    assert not rows[:, 0].any()
    pixels = rows[:, 1:].reshape(h, w, channels)
    return pixels[..., 0] if channels == 1 else pixels


def test_grid_layout_and_values():
    imgs = np.zeros((5, 2, 3))
    imgs[1] = 1.0
    grid = images_mod.make_image_grid(imgs, nrow=3, padding=1, pad_value=0.5)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1) and grid.dtype == np.uint8
    assert grid[0, 0] == 128 and grid[1, 1] == 0 and grid[1, 5] == 255  # padding, image 0, image 1
    assert grid[4, 9] == 128  # the empty sixth cell is padding colour
    rgb = images_mod.make_image_grid(np.ones((2, 4, 4, 3)), nrow=2, padding=0)
    assert rgb.shape == (4, 8, 3)
    chw = images_mod.make_image_grid(np.ones((2, 3, 4, 5)), padding=0, data_format="channels_first")
    assert chw.shape == (4, 10, 3)
    scaled = images_mod.make_image_grid(np.array([[[-1.0, 1.0]]]), padding=0, value_range=(-1, 1))
    np.testing.assert_array_equal(scaled, [[0, 255]])


def test_builtin_png_encoder_round_trips(tmp_path, monkeypatch):
    pixels = (np.arange(7 * 5) * 7 % 256).astype(np.uint8).reshape(7, 5)
    np.testing.assert_array_equal(_decode_png(images_mod.encode_png(pixels)), pixels)
    colour = np.random.default_rng(0).integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_decode_png(images_mod.encode_png(colour)), colour)
    import builtins

    real_import = builtins.__import__

    def no_pillow(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no Pillow here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    grid = cr.utils.save_image_grid(np.random.default_rng(1).uniform(size=(4, 6, 6)), tmp_path / "g.png", nrow=2)
    np.testing.assert_array_equal(_decode_png((tmp_path / "g.png").read_bytes()), grid)


def test_pillow_writes_the_same_pixels(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    grid = cr.utils.save_image_grid(np.random.default_rng(2).uniform(size=(3, 5, 5, 1)), tmp_path / "p.png")
    np.testing.assert_array_equal(np.asarray(PIL.open(tmp_path / "p.png")), grid)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 4)), "expected a batch of images"),
    (np.zeros((1, 2, 3, 4, 5)), "expected a batch of images"),
    (np.zeros((2, 4, 4, 2)), "1 or 3 channels"),
    (np.zeros((0, 4, 4)), "empty"),
])
def test_wrong_shapes_are_clear_errors(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        cr.utils.save_image_grid(bad, tmp_path / "x.png")
    with pytest.raises(ValueError, match="nrow"):
        cr.utils.save_image_grid(np.zeros((2, 3, 3)), tmp_path / "x.png", nrow=0)


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib")
    history = {"loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.4, 2.0], "accuracy": [0.5, 0.7, 0.8]}
    fig = cr.utils.plot_history(history, to_file=tmp_path / "h.png", title="t")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="no metric"):
        cr.utils.plot_history(history, keys=["mse"])
    with pytest.raises(ValueError, match="non-empty"):
        cr.utils.plot_history({})
