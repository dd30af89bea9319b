"""Image embedders (torch): a convolutional autoencoder's encoder, and the penultimate layer of a small
supervised CNN. Both map images to L2-normalised float32 rows, like the text embedders, and are saved
with a collection as ``embedder.json`` plus their weights as a pickle-free ``.npz``.

Images are arrays ``(n, height, width)`` (grey) or ``(n, height, width, channels)``, uint8 in 0..255 or
floats in 0..1; ``read_images`` reads a folder of PNG/JPEG files or an ``.npz`` into that form. The
height and width must be multiples of 4 (two stride-2 convolutions); ``read_images(size=...)`` resizes.

    ae = ConvAutoencoderEmbedder(dim=64, epochs=5).fit(train_images)
    vectors = ae.encode(test_images)          # (n, 64), unit rows
    cnn = CNNEmbedder(dim=64, epochs=3).fit(train_images, train_labels)
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vectree.embed.base import normalize_rows, pack, params_hash, register
from vectree.errors import InvalidInputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ProgressFn = Callable[[int, int, float], None]  # (epoch, epochs, mean loss)


def as_images(images: Any) -> np.ndarray:
    """float32 (n, channels, height, width) in 0..1 from uint8 / float arrays (n, h, w) or (n, h, w, c).

    >>> as_images(np.zeros((2, 8, 8), np.uint8)).shape
    (2, 1, 8, 8)
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[:, :, :, None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise InvalidInputError(f"images must be a non-empty (n, height, width[, channels]) array, got shape {x.shape}")
    if x.shape[1] % 4 or x.shape[2] % 4:
        raise InvalidInputError(
            f"image height and width must be multiples of 4, got {x.shape[1]}x{x.shape[2]}; "
            "resize them (read_images(size=...))"
        )
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    else:
        x = x.astype(np.float32)
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise InvalidInputError("float images must be finite and in 0..1 (or pass uint8 0..255)")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def read_images(
    path: str | Path,
    size: tuple[int, int] | None = None,
    grey: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Images from a folder of PNG/JPEG files (sorted by name) or an ``.npz`` (its ``images`` array, or its
    first one, and ``labels`` if present). Returns ``(images uint8 (n, h, w[, c]), labels or None, names)``.
    Folder images are converted to RGB (``grey``: L) and resized to ``size`` (width, height) or to the
    first image's size rounded down to a multiple of 4. ``progress(done, total)`` follows the reading."""
    p = Path(path)
    if p.suffix == ".npz" and p.is_file():
        with np.load(p, allow_pickle=False) as z:
            if not z.files:
                raise InvalidInputError(f"{p} holds no arrays")
            images = z["images"] if "images" in z.files else z[z.files[0]]
            labels = z["labels"] if "labels" in z.files else None
        if images.ndim == 2:  # flat rows of square images
            side = int(round(np.sqrt(images.shape[1])))
            if side * side != images.shape[1]:
                raise InvalidInputError(f"{p}: flat rows of {images.shape[1]} values are not square images")
            images = images.reshape(-1, side, side)
        return images, labels, [f"{p.name}[{i}]" for i in range(len(images))]
    if not p.is_dir():
        raise InvalidInputError(f"{p} is neither a folder of PNG/JPEG files nor an .npz file")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInputError(f"{p} has no {'/'.join(IMAGE_SUFFIXES)} files")
    from PIL import Image

    out = []
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                im = im.convert("L" if grey else "RGB")
                if size is None:
                    size = (max(4, im.width // 4 * 4), max(4, im.height // 4 * 4))
                out.append(np.asarray(im.resize(size), dtype=np.uint8))
        except OSError as exc:
            raise InvalidInputError(f"cannot read image {f}: {exc}") from exc
        if progress is not None:
            progress(i + 1, len(files))
    return np.stack(out), None, [f.name for f in files]


def _torch():  # noqa: ANN202
    import torch

    return torch


WIDTH = (16, 32)  # channels of the two convolutions: small, so training stays cheap on a CPU


def _encoder_layers(nn: Any, channels: int, height: int, width: int, dim: int) -> Any:
    a, b = WIDTH
    return nn.Sequential(
        nn.Conv2d(channels, a, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(a, b, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(b * (height // 4) * (width // 4), dim),
    )


class _ImageEmbedder:
    """What both image embedders share: shape bookkeeping, batched encoding, training loop, persistence."""

    kind = ""
    name = ""

    def __init__(
        self,
        *,
        dim: int = 64,
        epochs: int = 5,
        batch_size: int = 256,
        lr: float = 2e-3,
        seed: int = 0,
        progress: ProgressFn | None = None,
    ) -> None:
        if dim < 1 or epochs < 0 or batch_size < 1:
            raise InvalidInputError(
                f"dim and batch_size must be positive and epochs >= 0, got {dim}, {batch_size}, {epochs}"
            )
        self.dim_, self.epochs, self.batch_size, self.lr, self.seed = int(dim), int(epochs), int(batch_size), lr, seed
        self.progress = progress

    @property
    def dim(self) -> int:
        return self.dim_

    def _check(self) -> None:
        if not hasattr(self, "net_"):
            raise InvalidInputError(f"{type(self).__name__} is not fitted; call fit(images) first")

    def _build(self, shape: tuple[int, int, int], n_classes: int = 0) -> None:
        raise NotImplementedError

    def _train(self, x: np.ndarray, loss_fn: Callable, y: np.ndarray | None = None) -> None:
        torch = _torch()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        self.loss_history_ = []
        t0 = time.perf_counter()
        for epoch in range(self.epochs):
            self.net_.train()
            order = rng.permutation(len(x))
            total, batches = 0.0, 0
            for s in range(0, len(x), self.batch_size):
                sel = order[s : s + self.batch_size]
                xb = torch.from_numpy(x[sel])
                loss = loss_fn(xb, None if y is None else torch.from_numpy(y[sel]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, batches = total + float(loss.detach()), batches + 1
            self.loss_history_.append(total / batches)
            log.info(
                "%s epoch %d/%d loss %.4f (%.1fs)",
                self.kind,
                epoch + 1,
                self.epochs,
                total / batches,
                time.perf_counter() - t0,
            )
            if self.progress is not None:
                self.progress(epoch + 1, self.epochs, total / batches)
        self.net_.eval()
        self.fit_seconds_ = time.perf_counter() - t0

    def _embed(self, x: np.ndarray) -> Any:
        return self.net_.encoder(x)

    def encode(self, images: Any, *, show_progress: bool = False) -> np.ndarray:
        """(n, dim) float32, L2-normalised embeddings of the images."""
        self._check()
        x = as_images(images)
        if x.shape[1:] != tuple(self.shape_):
            raise InvalidInputError(
                f"images must be {self.shape_[1]}x{self.shape_[2]} with {self.shape_[0]} channel(s) "
                f"like the training images, got {x.shape[2]}x{x.shape[3]} with {x.shape[1]}"
            )
        torch = _torch()
        out = np.empty((len(x), self.dim), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, len(x), 1024):
                out[s : s + 1024] = self._embed(torch.from_numpy(x[s : s + 1024])).numpy()
        return normalize_rows(out)

    # ------------------------------------------------------------------ persistence
    def _params(self) -> dict[str, Any]:
        return {
            "dim": self.dim_,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "seed": self.seed,
            "shape": list(self.shape_),
            "n_classes": getattr(self, "n_classes_", 0),
        }

    def _weights(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **{k: v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()})
        return buf.getvalue()

    def config_hash(self) -> str:
        """Parameters and weights hashed: two embedders agree only if they embed identically."""
        self._check()
        return params_hash(self.kind, self._params(), [self._weights()])

    def to_bytes(self) -> bytes:
        """``embedder.json`` plus ``weights.npz`` (no pickle)."""
        self._check()
        return pack(self.kind, self._params(), self.config_hash(), {"weights.npz": self._weights()})

    @classmethod
    def _from_parts(cls, params: dict[str, Any], files: dict[str, bytes]) -> _ImageEmbedder:
        torch = _torch()
        emb = cls(
            dim=params["dim"],
            epochs=params["epochs"],
            batch_size=params["batch_size"],
            lr=params["lr"],
            seed=params["seed"],
        )
        emb._build(tuple(params["shape"]), int(params.get("n_classes", 0)))
        with np.load(io.BytesIO(files["weights.npz"]), allow_pickle=False) as z:
            emb.net_.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
        emb.net_.eval()
        return emb

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim_}, epochs={self.epochs})"


@register("conv-autoencoder")
class ConvAutoencoderEmbedder(_ImageEmbedder):
    """A convolutional autoencoder trained to reconstruct the images (mean squared error); its encoder
    (two stride-2 convolutions and a linear layer to ``dim``) is the embedding. Unsupervised."""

    kind = "conv-autoencoder"
    name = "conv-autoencoder"

    def _build(self, shape: tuple[int, int, int], n_classes: int = 0) -> None:
        nn = _torch().nn
        c, h, w = shape
        self.shape_ = (c, h, w)
        net = nn.Module()
        net.encoder = _encoder_layers(nn, c, h, w, self.dim_)
        net.decoder = nn.Sequential(
            nn.Linear(self.dim_, WIDTH[1] * (h // 4) * (w // 4)),
            nn.ReLU(),
            nn.Unflatten(1, (WIDTH[1], h // 4, w // 4)),
            nn.ConvTranspose2d(WIDTH[1], WIDTH[0], 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(WIDTH[0], c, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )
        self.net_ = net

    def fit(self, images: Any, labels: Any = None) -> ConvAutoencoderEmbedder:
        """Train on the images (``labels`` are ignored). Returns self."""
        torch = _torch()
        x = as_images(images)
        torch.manual_seed(self.seed)
        self._build(x.shape[1:])
        mse = torch.nn.functional.mse_loss
        self._train(x, lambda xb, _: mse(self.net_.decoder(self.net_.encoder(xb)), xb))
        self.name = f"conv-autoencoder-{self.dim_}d"
        return self

    def reconstruct(self, images: Any) -> np.ndarray:
        """The autoencoder's reconstructions, float32 (n, h, w[, c]) in 0..1."""
        self._check()
        torch = _torch()
        x = as_images(images)
        with torch.no_grad():
            out = self.net_.decoder(self.net_.encoder(torch.from_numpy(x))).numpy()
        out = out.transpose(0, 2, 3, 1)
        return out[..., 0] if out.shape[-1] == 1 else out


@register("cnn-penultimate")
class CNNEmbedder(_ImageEmbedder):
    """A small supervised CNN (the autoencoder's encoder shape, then ReLU, dropout and a linear layer to the
    classes) trained with cross-entropy on labelled images; the embedding is its penultimate layer."""

    kind = "cnn-penultimate"
    name = "cnn-penultimate"

    def _build(self, shape: tuple[int, int, int], n_classes: int = 0) -> None:
        nn = _torch().nn
        c, h, w = shape
        self.shape_, self.n_classes_ = (c, h, w), int(n_classes)
        net = nn.Module()
        net.encoder = _encoder_layers(nn, c, h, w, self.dim_)
        net.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.2), nn.Linear(self.dim_, self.n_classes_))
        self.net_ = net

    def fit(self, images: Any, labels: Any) -> CNNEmbedder:
        """Train on labelled images (any hashable labels; at least two classes). Returns self."""
        torch = _torch()
        x = as_images(images)
        if labels is None:
            raise InvalidInputError("CNNEmbedder is supervised: fit(images, labels) needs one label per image")
        self.classes_, y = np.unique(np.asarray(labels), return_inverse=True)
        if len(y) != len(x) or len(self.classes_) < 2:
            raise InvalidInputError(
                f"need one label per image and at least two classes, got {len(y)} labels for "
                f"{len(x)} images and {len(self.classes_)} classes"
            )
        torch.manual_seed(self.seed)
        self._build(x.shape[1:], len(self.classes_))
        ce = torch.nn.functional.cross_entropy
        self._train(x, lambda xb, yb: ce(self.net_.head(self.net_.encoder(xb)), yb), y.astype(np.int64))
        self.name = f"cnn-penultimate-{self.dim_}d"
        return self

    def _embed(self, x: Any) -> Any:
        return _torch().relu(self.net_.encoder(x))
