"""Image embeddings on fashion-mnist: kNN accuracy through a vectree collection for raw pixels, PCA, the
convolutional autoencoder and the supervised CNN's penultimate layer at equal dimensions.

    python benchmarks/images.py [--quick] [--dim 64] [--ae-train 20000] [--epochs 3]

The classifier is ``DocumentClassifier`` on vectors (10 neighbours, distance-weighted vote, cosine, probes
8, plus one exact row per embedding); every embedding is fitted on the training split only and measured on
the 10,000 test images. Writes benchmarks/results/images.{json,md,png}, images-similar.png (nearest
training images of a few test images per embedding) and images-reconstruction.png (test images and
their autoencoder reconstructions).
"""

from __future__ import annotations

import gzip
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, arguments, markdown_table, named, write_results  # noqa: E402
from benchmarks.datasets import SHARED  # noqa: E402
from vectree.apps.classify import DocumentClassifier  # noqa: E402
from vectree.embed.images import CNNEmbedder, ConvAutoencoderEmbedder  # noqa: E402
from vectree.figures import pyplot, save_figure  # noqa: E402

log = logging.getLogger("bench.images")
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


def _idx(name: str, offset: int) -> np.ndarray:
    with gzip.open(SHARED / "fashion-mnist" / name) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load(quick: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = _idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y = _idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    xt = _idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    yt = _idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    if quick:
        return x[:4000], y[:4000], xt[:500], yt[:500]
    return x, y, xt, yt


def knn(
    name: str,
    setting: str,
    train: np.ndarray,
    y: np.ndarray,
    test: np.ndarray,
    yt: np.ndarray,
    dataset: str,
    extra: dict,
) -> list[dict]:
    rows = []
    t = time.perf_counter()
    clf = DocumentClassifier(n_neighbors=10, probes=8, head=None).fit(train, y)
    build_s = time.perf_counter() - t
    for exact in (False, True):
        clf.set_params(probes=8, exact=exact)
        pred = clf.predict(test)
        acc = float((pred == yt).mean())
        ms = 1000 * clf.timings_.search_s / len(test)
        rows.append(
            {
                "system": name,
                "setting": f"{setting}, {'exact' if exact else 'probes=8'}",
                "dataset": dataset,
                "metrics": {
                    "accuracy": acc,
                    "dim": int(train.shape[1]),
                    "search_ms_per_image": ms,
                    "collection_build_s": build_s,
                    **extra,
                },
            }
        )
        log.info("%-14s %-36s acc %.4f (%.3f ms/image)", name, rows[-1]["setting"], acc, ms)
    clf.set_params(probes=8, exact=False)
    return rows, clf


def main() -> None:
    ap = arguments(__doc__.splitlines()[0], quick="4,000 train / 500 test images, 1 epoch: under a minute")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--ae-train", type=int, default=20000, help="training images for the autoencoder (CPU budget)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(1)
    epochs = args.epochs or (1 if args.quick else 3)
    x, y, xt, yt = load(args.quick)
    dataset = "fashion-mnist" + ("-quick" if args.quick else "")
    flat, flat_t = x.reshape(len(x), -1).astype(np.float32) / 255, xt.reshape(len(xt), -1).astype(np.float32) / 255
    rows: list[dict] = []
    found: dict[str, np.ndarray] = {}

    r, clf = knn("raw pixels", "784 grey values", flat, y, flat_t, yt, dataset, {"fit_s": 0.0})
    rows += r
    found["raw pixels"] = np.asarray(clf.collection_.search(flat_t[:6], k=8, probes=8).ids)

    from sklearn.decomposition import PCA

    t = time.perf_counter()
    pca = PCA(args.dim, random_state=0).fit(flat)
    fit_s = time.perf_counter() - t
    r, clf = knn(
        "PCA", f"{args.dim} components", pca.transform(flat), y, pca.transform(flat_t), yt, dataset, {"fit_s": fit_s}
    )
    rows += r
    found["PCA"] = np.asarray(clf.collection_.search(pca.transform(flat_t[:6]).astype(np.float32), k=8, probes=8).ids)

    n_ae = min(args.ae_train, len(x))
    ae = ConvAutoencoderEmbedder(dim=args.dim, epochs=epochs, seed=0).fit(x[:n_ae])
    r, clf = knn(
        "autoencoder",
        f"conv AE, {args.dim}-d code, {n_ae} train images, {epochs} epochs",
        ae.encode(x),
        y,
        ae.encode(xt),
        yt,
        dataset,
        {"fit_s": ae.fit_seconds_, "final_loss": ae.loss_history_[-1]},
    )
    rows += r
    found["autoencoder"] = np.asarray(clf.collection_.search(ae.encode(xt[:6]), k=8, probes=8).ids)

    cnn = CNNEmbedder(dim=args.dim, epochs=epochs, seed=0).fit(x, y)
    r, clf = knn(
        "CNN",
        f"supervised CNN penultimate layer, {args.dim}-d, {epochs} epochs",
        cnn.encode(x),
        y,
        cnn.encode(xt),
        yt,
        dataset,
        {"fit_s": cnn.fit_seconds_, "final_loss": cnn.loss_history_[-1]},
    )
    rows += r
    found["CNN"] = np.asarray(clf.collection_.search(cnn.encode(xt[:6]), k=8, probes=8).ids)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name, command = named("images", args.quick)
    best = max(rows, key=lambda r: r["metrics"]["accuracy"])
    extra = {
        "settings": {
            "dim": args.dim,
            "epochs": epochs,
            "ae_train_images": n_ae,
            "n_train": len(x),
            "n_test": len(xt),
            "k": 10,
            "weights": "distance",
            "metric": "cosine",
        },
        "best": {"system": best["system"], "setting": best["setting"], "accuracy": best["metrics"]["accuracy"]},
    }
    path = write_results(name, command, 1, rows, extra) if out == RESULTS else None
    if path is None:
        import json

        (out / f"{name}.json").write_text(
            json.dumps({"benchmark": name, "command": command, "rows": rows, **extra}, indent=1)
        )
    cols = ["accuracy", "dim", "search_ms_per_image", "fit_s"]
    md = [
        f"# {name}",
        "",
        f"Command: `{command}`",
        "",
        f"kNN (10 neighbours, distance-weighted, cosine) through a vectree collection; {len(x)} training and "
        f"{len(xt)} test images; embeddings fitted on the training split only.",
        "",
        markdown_table(rows, cols),
        "",
        "![similar images](images-similar.png)",
        "",
        "![reconstructions](images-reconstruction.png)",
        "",
    ]
    (out / f"{name}.md").write_text("\n".join(md))
    _plots(out, name, rows, x, xt, found, ae)


def _plots(
    out: Path, name: str, rows: list[dict], x: np.ndarray, xt: np.ndarray, found: dict, ae: ConvAutoencoderEmbedder
) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 3.5))
    sel = [r for r in rows if r["setting"].endswith("probes=8")]
    ax.bar([r["system"] for r in sel], [r["metrics"]["accuracy"] for r in sel])
    ax.set_ylim(0.6, 1.0)
    ax.set_ylabel("kNN accuracy (test)")
    ax.set_title("fashion-mnist, equal dims except raw pixels")
    save_figure(fig, out / f"{name}.png", dpi=110)

    systems = list(found)
    n_q = 4
    fig, axes = plt.subplots(n_q * len(systems), 9, figsize=(9, 1.05 * n_q * len(systems)))
    for si, s in enumerate(systems):
        for q in range(n_q):
            row = axes[si * n_q + q]
            row[0].imshow(xt[q], cmap="gray")
            row[0].set_ylabel(s if q == 0 else "", fontsize=7)
            for j in range(8):
                row[j + 1].imshow(x[found[s][q][j]], cmap="gray")
            for a in row:
                a.set_xticks([])
                a.set_yticks([])
    fig.suptitle("test image (left) and its 8 nearest training images, per embedding", fontsize=9)
    save_figure(fig, out / ("images-similar.png" if name == "images" else f"{name}-similar.png"), dpi=90)

    rec = ae.reconstruct(xt[:12])
    fig, axes = plt.subplots(2, 12, figsize=(12, 2.3))
    for j in range(12):
        axes[0, j].imshow(xt[j], cmap="gray")
        axes[1, j].imshow(rec[j], cmap="gray")
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
    axes[0, 0].set_ylabel("test", fontsize=8)
    axes[1, 0].set_ylabel("AE", fontsize=8)
    save_figure(fig, out / ("images-reconstruction.png" if name == "images" else f"{name}-reconstruction.png"), dpi=90)


if __name__ == "__main__":
    main()
