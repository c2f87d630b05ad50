"""Tiny Shakespeare: 1,115,394 characters of Shakespeare's plays, for character-level models.

As distributed with char-rnn by Andrej Karpathy (https://github.com/karpathy/char-rnn,
``data/tinyshakespeare/input.txt`` on ``master``). The text is in the public domain.
"""
from __future__ import annotations

from ._download import fetch

SUBDIR = "tiny-shakespeare"
FILENAME = "input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
URLS = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",)


def load_data() -> str:
    """The full text of Tiny Shakespeare as one ``str`` (ASCII, ``"\\n"`` line ends, 65 distinct characters).

    The file is looked for in ``$CHAINRULE_DATA/tiny-shakespeare/input.txt`` (else under
    ``~/.chainrule/datasets``) and downloaded there when missing.

    Raises:
        DatasetNotFoundError: the file is missing and cannot be downloaded.
        DatasetChecksumError: the file does not have the pinned SHA-256.
    """
    path = fetch(SUBDIR, FILENAME, SHA256, URLS, dataset="tiny_shakespeare")
    with open(path, "rb") as f:
        return f.read().decode("utf-8")
