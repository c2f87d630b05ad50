"""Finding, downloading and verifying dataset files.

Datasets live in ``$CHAINRULE_DATA``, else ``~/.chainrule/datasets``, one subfolder a
dataset (``mnist``, ``fashion-mnist``, ``tiny-shakespeare``). ``fetch`` returns the path
of a file whose SHA-256 matches the pinned one: a file already there is checked (once
per process while its size and modification time stay the same); a missing file is
downloaded from the dataset's mirrors to a temporary name in the same folder and renamed
only after its checksum matches, so a partial or wrong download is never used.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request

ENV_VAR = "CHAINRULE_DATA"
TIMEOUT = 30.0  # seconds to wait on a mirror before trying the next
_CHUNK = 1 << 20
_USER_AGENT = "chainrule-datasets/0.1 (+python urllib)"

# (realpath, size, mtime_ns, sha256) of files whose checksum was verified in this process.
_verified: set = set()


class DatasetNotFoundError(OSError):
    """A dataset file is missing and could not be downloaded (offline, mirror down, folder not writable)."""


class DatasetChecksumError(ValueError):
    """A dataset file (on disk or just downloaded) does not have the pinned SHA-256; it is not used."""


def data_home() -> str:
    """The folder that holds the datasets: ``$CHAINRULE_DATA``, else ``~/.chainrule/datasets``."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".chainrule", "datasets")


def sha256_of(path: str) -> str:
    """The hex SHA-256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stat_key(path: str, sha256: str):
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, sha256)


def _verify_existing(path: str, sha256: str, dataset: str) -> None:
    key = _stat_key(path, sha256)
    if key in _verified:
        return
    actual = sha256_of(path)
    if actual != sha256:
        raise DatasetChecksumError(
            f"{dataset}: the file {path} has SHA-256 {actual}, but {sha256} was expected; it is corrupt, "
            f"truncated or a different version, and will not be used. Delete it to have it downloaded again, "
            f"or replace it with the original file.")
    _verified.add(key)


def _progress_bar(total, filename):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; degrade to no bar
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=filename, leave=True)


def _download(url: str, tmp_file, filename: str) -> None:
    """Stream ``url`` into the open binary file ``tmp_file`` with a progress bar."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        headers = getattr(response, "headers", None)
        length = headers.get("Content-Length") if headers is not None else None
        total = int(length) if length and str(length).isdigit() else None
        bar = _progress_bar(total, filename)
        try:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                tmp_file.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()


def _how_to_place(dataset: str, subdir: str, filename: str, folder: str, sha256: str, urls) -> str:
    sources = "".join(f"\n    {u}" for u in urls)
    return (f"To place it by hand, download it on a machine with network access from:{sources}\n"
            f"  and copy it to {os.path.join(folder, filename)} "
            f"(or set the environment variable {ENV_VAR} to a folder that holds {subdir}/{filename}; "
            f"without {ENV_VAR} the datasets live in ~/.chainrule/datasets). "
            f"Its SHA-256 must be {sha256}.")


def fetch(subdir: str, filename: str, sha256: str, urls, dataset: str | None = None) -> str:
    """The local path of ``subdir/filename`` under ``data_home()``, downloaded if it is missing.

    Args:
        subdir: the dataset's folder, e.g. ``"mnist"``.
        filename: the file's name, e.g. ``"train-images-idx3-ubyte.gz"``.
        sha256: the pinned hex SHA-256 of the file.
        urls: full URLs of the file, tried in order when it is missing.
        dataset: the dataset's name for messages (defaults to ``subdir``).

    Raises:
        DatasetChecksumError: the file on disk, or every download of it, has another SHA-256.
        DatasetNotFoundError: the file is missing and no mirror could deliver it.
    """
    dataset = dataset or subdir
    sha256 = sha256.lower()
    folder = os.path.join(data_home(), subdir)
    path = os.path.join(folder, filename)
    if os.path.isfile(path):
        _verify_existing(path, sha256, dataset)
        return path
    if os.path.exists(path):
        raise DatasetNotFoundError(f"{dataset}: {path} exists but is not a file; remove it or point "
                                   f"{ENV_VAR} at another folder")

    urls = list(urls)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DatasetNotFoundError(
            f"{dataset}: the file {filename} is missing from {folder}, and that folder cannot be created "
            f"to download it into ({exc}). {_how_to_place(dataset, subdir, filename, folder, sha256, urls)}"
        ) from exc

    failures, wrong_checksum = [], False
    for url in urls:
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        except OSError as exc:
            raise DatasetNotFoundError(
                f"{dataset}: the file {filename} is missing from {folder}, and that folder is not writable "
                f"({exc}). {_how_to_place(dataset, subdir, filename, folder, sha256, urls)}") from exc
        try:
            print(f"Downloading {filename} for {dataset} from {url}", file=sys.stderr)
            with os.fdopen(fd, "wb") as f:
                _download(url, f, filename)
            actual = sha256_of(tmp)
            if actual != sha256:
                wrong_checksum = True
                failures.append(f"{url}: downloaded file has SHA-256 {actual}, expected {sha256}")
                continue
            os.replace(tmp, path)
            tmp = None
            _verified.add(_stat_key(path, sha256))
            return path
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # URLError and socket timeouts are OSErrors; HTTPException covers cut-off responses
            # (IncompleteRead); ValueError covers malformed URLs.
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)

    tried = "".join(f"\n    {f}" for f in failures) or "\n    (no download URLs are known)"
    if wrong_checksum and all("SHA-256" in f for f in failures):
        raise DatasetChecksumError(
            f"{dataset}: every download of {filename} had the wrong SHA-256, so none was kept:{tried}\n"
            f"  {_how_to_place(dataset, subdir, filename, folder, sha256, urls)}")
    raise DatasetNotFoundError(
        f"{dataset}: the file {filename} was not found in {folder} and could not be downloaded "
        f"(offline, or the mirrors are unreachable). Tried:{tried}\n"
        f"  {_how_to_place(dataset, subdir, filename, folder, sha256, urls)}")
