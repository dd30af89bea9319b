"""The image embedders on generated images of known structure (three pattern classes, noisy): the
autoencoder reconstructs and its neighbours share a class, the CNN's penultimate layer separates the
classes through a collection, both survive to_bytes, and `vectree embed images` reads PNG folders and .npz."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import vectree
from vectree.cli.main import app
from vectree.embed import from_bytes, load_embedder
from vectree.embed.images import CNNEmbedder, ConvAutoencoderEmbedder, as_images, read_images
from vectree.errors import InvalidInputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def patterns(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 16x16 images: horizontal stripes, vertical stripes or a centred blob, at random phase, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    r, c = np.mgrid[0:16, 0:16]
    out = np.empty((n, 16, 16), dtype=np.float32)
    for j, cls in enumerate(y):
        phase = rng.integers(0, 4)
        if cls == 0:
            img = ((r + phase) % 4 < 2).astype(np.float32)
        elif cls == 1:
            img = ((c + phase) % 4 < 2).astype(np.float32)
        else:
            img = np.exp(-((r - 7.5 - phase / 2) ** 2 + (c - 7.5) ** 2) / 18.0)
        out[j] = img
    out = np.clip(out + rng.normal(0, 0.15, out.shape), 0, 1)
    return (out * 255).astype(np.uint8), y


def knn_accuracy(train_vecs, train_y, test_vecs, test_y, tmp_path, name) -> float:
    col = vectree.create_collection(str(tmp_path / name), dim=train_vecs.shape[1], metric="cosine")
    col.add(train_vecs, ids=np.arange(len(train_vecs), dtype=np.int64))
    col.build()
    res = col.search(test_vecs, k=5, probes=4)
    votes = train_y[np.asarray(res.ids)]
    pred = np.array([np.bincount(v, minlength=3).argmax() for v in votes])
    return float((pred == test_y).mean())


@pytest.fixture(scope="module")
def data():
    return patterns(600, 0), patterns(150, 1)


def test_autoencoder_reconstructs_and_groups_similar_images(data, tmp_path):
    (x, y), (xt, yt) = data
    ae = ConvAutoencoderEmbedder(dim=16, epochs=6, batch_size=64, seed=0).fit(x)
    assert ae.loss_history_[-1] < ae.loss_history_[0]
    rec = ae.reconstruct(xt[:20])
    assert rec.shape == (20, 16, 16)
    err = np.mean((rec - xt[:20] / 255.0) ** 2)
    assert err < np.mean((xt[:20] / 255.0 - (x / 255.0).mean(0)) ** 2)  # better than the mean image
    vecs = ae.encode(x)
    assert vecs.shape == (600, 16) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert knn_accuracy(vecs, y, ae.encode(xt), yt, tmp_path, "ae") > 0.8
    again = from_bytes(ae.to_bytes())
    assert np.array_equal(again.encode(xt), ae.encode(xt)) and again.config_hash() == ae.config_hash()


def test_cnn_penultimate_layer_separates_the_classes(data, tmp_path):
    (x, y), (xt, yt) = data
    cnn = CNNEmbedder(dim=16, epochs=4, batch_size=64, seed=0).fit(x, y)
    assert knn_accuracy(cnn.encode(x), y, cnn.encode(xt), yt, tmp_path, "cnn") > 0.95
    assert np.array_equal(from_bytes(cnn.to_bytes()).encode(xt[:5]), cnn.encode(xt[:5]))


def test_bad_images_are_refused():
    with pytest.raises(InvalidInputError, match="multiples of 4"):
        as_images(np.zeros((2, 10, 10), np.uint8))
    with pytest.raises(InvalidInputError, match="in 0..1"):
        as_images(np.full((2, 8, 8), 3.0))
    with pytest.raises(InvalidInputError, match="supervised"):
        CNNEmbedder().fit(np.zeros((4, 8, 8), np.uint8), None)
    with pytest.raises(InvalidInputError, match="not fitted"):
        ConvAutoencoderEmbedder().encode(np.zeros((1, 8, 8), np.uint8))


def test_cli_embeds_a_png_folder_and_an_npz(data, tmp_path):
    (x, y), _ = data
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(x[i]).save(folder / f"img{i:03d}.png")
    imgs, labels, names = read_images(folder, grey=True)
    assert imgs.shape == (40, 16, 16) and labels is None and names[0] == "img000.png"
    url = str(tmp_path / "col")
    res = CliRunner().invoke(
        app,
        [
            "embed",
            "images",
            str(folder),
            "--out",
            str(tmp_path / "v.npy"),
            "--grey",
            "--dim",
            "8",
            "--epochs",
            "1",
            "--url",
            url,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "training autoencoder" in res.output and "embedding" in res.output
    v = np.load(tmp_path / "v.npy")
    assert v.shape == (40, 8)
    col = vectree.open_collection(url)
    assert len(col) == 40 and np.allclose(load_embedder(col).encode(imgs), v, atol=1e-6)
    np.savez(tmp_path / "d.npz", images=x[:60], labels=y[:60])
    res = CliRunner().invoke(
        app,
        [
            "embed",
            "images",
            str(tmp_path / "d.npz"),
            "--out",
            str(tmp_path / "c.npy"),
            "--model",
            "cnn",
            "--dim",
            "8",
            "--epochs",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "c.npy").shape == (60, 8)
    res = CliRunner().invoke(app, ["embed", "images", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.npy")])
    assert res.exit_code == 2 and "neither a folder" in res.output
