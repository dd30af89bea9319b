"""``vectree embed images``: train an image embedder on a folder of PNG/JPEG files or an .npz and write
the embeddings (and, with ``--url``, a collection holding them with the embedder attached)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vectree.cli.common import console, reports_errors
from vectree.errors import InvalidInputError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Embeddings: image embedders (convolutional autoencoder, supervised CNN).",
)


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
@reports_errors
def images(
    source: Path = typer.Argument(
        ..., help="A folder of PNG/JPEG files, or an .npz (array 'images', optional 'labels')."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Where to write the embeddings (.npy, one row per image, in name order)."
    ),
    model: str = typer.Option(
        "autoencoder", help="autoencoder (unsupervised) or cnn (penultimate layer; needs labels)."
    ),
    dim: int = typer.Option(64, help="Embedding size."),
    epochs: int = typer.Option(3, help="Training epochs."),
    size: int = typer.Option(0, help="Resize folder images to SIZE x SIZE (0: the first image's size, rounded to 4)."),
    grey: bool = typer.Option(False, help="Read folder images as grey (one channel)."),
    url: str = typer.Option(
        None, "--url", help="Also create a collection here with the embeddings (ids = row numbers) and the embedder."
    ),
) -> None:
    """Train an image embedder on the images and embed them, with progress bars."""
    from vectree.embed.images import CNNEmbedder, ConvAutoencoderEmbedder, read_images

    if model not in ("autoencoder", "cnn"):
        raise InvalidInputError(f"--model must be 'autoencoder' or 'cnn', got {model!r}")
    with _bar() as bar:
        task = bar.add_task("reading images", total=None, note="")
        imgs, labels, names = read_images(
            source,
            size=(size, size) if size else None,
            grey=grey,
            progress=lambda d, n: bar.update(task, completed=d, total=n),
        )
        bar.update(task, completed=len(imgs), total=len(imgs), note=f"{imgs.shape[1]}x{imgs.shape[2]}")
        if model == "cnn" and labels is None:
            raise InvalidInputError("--model cnn needs labels: an .npz with a 'labels' array")
        train = bar.add_task(f"training {model}", total=epochs, note="loss -")

        def progress(epoch: int, total: int, loss: float) -> None:
            bar.update(train, completed=epoch, note=f"loss {loss:.4f}")

        cls = CNNEmbedder if model == "cnn" else ConvAutoencoderEmbedder
        embedder = cls(dim=dim, epochs=epochs, progress=progress).fit(imgs, labels)
        task = bar.add_task("embedding", total=len(imgs), note="")
        vectors = np.concatenate([embedder.encode(imgs[s : s + 1024]) for s in _steps(len(imgs), bar, task)])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, vectors)
    console.print(f"wrote [bold]{out}[/bold]: {vectors.shape[0]} x {vectors.shape[1]} ({embedder.name})")
    if url:
        import vectree
        from vectree.embed import attach_embedder

        col = vectree.create_collection(url, dim=vectors.shape[1], metric="cosine")
        col.add(vectors, ids=np.arange(len(vectors), dtype=np.int64))
        col.build()
        attach_embedder(col, embedder)
        console.print(f"collection [bold]{url}[/bold]: {len(col)} images, embedder attached ({names[0]} ...)")


def _steps(n: int, bar: Progress, task: int):  # noqa: ANN202
    for s in range(0, n, 1024):
        yield s
        bar.update(task, completed=min(n, s + 1024))
