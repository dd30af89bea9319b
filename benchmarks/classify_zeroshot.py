"""Zero-shot classification on arXiv, 20 Newsgroups and movie reviews, against the fraction-labelled curve.

    python benchmarks/classify_zeroshot.py            # full splits
    python benchmarks/classify_zeroshot.py --quick    # small slices, under a minute

Writes benchmarks/results/classify-zeroshot.{json,md,png}. No row of the zero-shot systems uses a label:
- class names, then human-written descriptions (benchmarks/classify_names.py), each embedded with the
  documents' encoder under several prompt templates (averaged); a document takes the nearest class;
- label propagation seeded from the name-matched rows: the rows nearest each description (top 2% of each
  class's zero-shot scores among train + test rows, by margin) become seeds, then the labels spread over the
  kNN graph of all rows (built with the collection's search);
- self-training: the default DocumentClassifier fitted on the propagated labels of the train rows.
The curve: label propagation and the default DocumentClassifier with 1%, 5%, 10% (and 100%) of the train rows
labelled. Vectors: MiniLM (arXiv precomputed, movie reviews cached), TF-IDF-LSA-256 for 20 Newsgroups (fitted
on the texts without labels; its long posts take too long to encode with MiniLM on this machine).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classify_names import (  # noqa: E402
    ARXIV_DESCRIPTIONS,
    ARXIV_NAMES,
    MOVIE_DESCRIPTIONS,
    MOVIE_NAMES,
    NG_DESCRIPTIONS,
    NG_NAMES,
)
from benchmarks.common import arguments, markdown_table, write_results  # noqa: E402
from vectree.apps.classify.classifier import DocumentClassifier  # noqa: E402
from vectree.apps.classify.evaluate import macro_f1  # noqa: E402

_COUNT = itertools.count()
SPECS = {
    "arxiv": (ARXIV_NAMES, ARXIV_DESCRIPTIONS, ["An arXiv paper in {}.", "{}", "A research paper about {}."]),
    "20ng": (NG_NAMES, NG_DESCRIPTIONS, ["{}", "A newsgroup post about {}."]),
    "movies": (MOVIE_NAMES, MOVIE_DESCRIPTIONS, ["{}", "A {} movie review.", "The film was {}."]),
}


def _row(system: str, setting: str, ds: dict, pred: Any, frac: float, labelled: int, t0: float, **extra: float) -> dict:
    y = np.asarray(ds["test_labels"], dtype=object)
    p = np.asarray(pred, dtype=object)
    acc = float(np.mean(p == y))
    print(f"   {ds['name']} {system} {setting}: acc={acc:.4f}", flush=True)
    return {
        "system": system,
        "setting": setting,
        "dataset": ds["name"],
        "metrics": {
            "fraction_labelled": frac,
            "labelled_rows": int(labelled),
            "accuracy": acc,
            "macro_f1": macro_f1(y, p),
            "seconds": time.perf_counter() - t0,
            **extra,
        },
    }


def _propagate(x: np.ndarray, seeds: dict[int, Any], k: int = 20) -> np.ndarray:
    """Labels of every row of ``x`` after spreading the ``seeds`` {row: label} over the kNN graph."""
    import vectree
    from vectree.apps.classify.zeroshot import propagate_labels

    labels: list[Any] = [None] * len(x)
    for i, v in seeds.items():
        labels[i] = v
    col = vectree.create_collection(
        f"memory://zeroshot-{next(_COUNT)}", dim=x.shape[1], metric="cosine", bucket_size=1000
    )
    col.add(x, ids=np.arange(len(x)), labels=labels)
    col.build()
    res = propagate_labels(col, n_neighbors=k, probes=10)
    return res.labels[np.argsort(res.ids)]


def run_dataset(ds: dict, train: np.ndarray, test: np.ndarray, encoder: Any, enc_name: str) -> list[dict]:
    """The zero-shot rows and the fraction-labelled curve on one dataset."""
    from vectree.apps.classify.zeroshot import ZeroShotClassifier

    names, descriptions, templates = SPECS[ds["name"]]
    x = np.concatenate([train, test])
    n_train = len(train)
    rows = []
    covered = float(np.mean([y in names for y in ds["test_labels"]]))
    t0 = time.perf_counter()
    zs = ZeroShotClassifier(encoder, names, template=templates[0]).fit()
    rows.append(
        _row(
            f"zero-shot names [{enc_name}]",
            f"template {templates[0]!r}",
            ds,
            zs.predict_embeddings(test),
            0,
            0,
            t0,
            test_rows_in_named_classes=covered,
        )
    )
    t0 = time.perf_counter()
    both = {c: [names[c], *([descriptions[c]] if isinstance(descriptions[c], str) else descriptions[c])] for c in names}
    prompts = {c: [t.format(d) for t in templates for d in ds_] for c, ds_ in both.items()}
    zs = ZeroShotClassifier(encoder, prompts).fit()
    rows.append(
        _row(
            f"zero-shot descriptions [{enc_name}]",
            f"name + description x {len(templates)} prompts, averaged",
            ds,
            zs.predict_embeddings(test),
            0,
            0,
            t0,
        )
    )
    # the zero-shot guesses of the train rows, smoothed by the neighbour vote (no label used)
    t0 = time.perf_counter()
    proba = zs.predict_proba_embeddings(x)
    guess = proba.argmax(1)
    clf = DocumentClassifier(head=None).fit(train, list(zs.classes_[guess[:n_train]]))
    rows.append(
        _row(
            f"zero-shot + kNN vote [{enc_name}]",
            "kNN (k=20) over the train rows' zero-shot guesses",
            ds,
            clf.predict(test),
            0,
            0,
            t0,
        )
    )
    # label propagation seeded from the rows that match the descriptions best (by margin), no label used
    truth = np.asarray(ds["train_labels"] + ds["test_labels"], dtype=object)
    top2 = np.sort(proba, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    for share in (0.02, 0.2):
        t0 = time.perf_counter()
        seeds: dict[int, Any] = {}
        for c in range(len(zs.classes_)):
            members = np.flatnonzero(guess == c)
            take = members[np.argsort(-margin[members])[: max(5, int(share * len(members)))]]
            seeds.update((int(i), zs.classes_[c]) for i in take)
        seed_acc = float(np.mean([seeds[i] == truth[i] for i in seeds]))
        spread = _propagate(x, seeds)
        rows.append(
            _row(
                f"zero-shot + label propagation [{enc_name}]",
                f"{len(seeds)} seeds (top {share:.0%} margin rows per class), k=20",
                ds,
                spread[n_train:],
                0,
                0,
                t0,
                seed_accuracy=seed_acc,
            )
        )
    t0 = time.perf_counter()
    heavy = n_train > 20_000  # arXiv: a linear head on 65k rows costs ~25 min here; its 100% row is in classify-goals
    clf = DocumentClassifier(head=None if heavy else "logistic").fit(train, list(spread[:n_train]))
    rows.append(
        _row(
            f"zero-shot + propagation + self-training [{enc_name}]",
            ("DocumentClassifier, vote alone" if heavy else "default DocumentClassifier")
            + f" on the train labels propagated from top {share:.0%}",
            ds,
            clf.predict(test),
            0,
            0,
            t0,
        )
    )
    rng = np.random.default_rng(0)
    y_train = np.asarray(ds["train_labels"], dtype=object)
    for frac in (0.01, 0.05, 0.10) if heavy else (0.01, 0.05, 0.10, 1.0):
        known = np.flatnonzero(rng.random(n_train) < frac) if frac < 1 else np.arange(n_train)
        if frac < 1:
            t0 = time.perf_counter()
            spread = _propagate(x, {int(i): y_train[i] for i in known})
            rows.append(
                _row(
                    f"label propagation [{enc_name}]",
                    f"{frac:.0%} labelled, k=20",
                    ds,
                    spread[n_train:],
                    frac,
                    len(known),
                    t0,
                )
            )
        t0 = time.perf_counter()
        clf = DocumentClassifier().fit(train[known], list(y_train[known]))
        rows.append(
            _row(
                f"DocumentClassifier default [{enc_name}]",
                f"{frac:.0%} labelled",
                ds,
                clf.predict(test),
                frac,
                len(known),
                t0,
            )
        )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    from vectree.figures import pyplot, save_figure

    plt = pyplot()
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.2), squeeze=False)
    for ax, d in zip(axes[0], datasets):
        rs = [r for r in rows if r["dataset"] == d]
        for kind, style in (("label propagation", "o-"), ("DocumentClassifier default", "s-")):
            pts = sorted(
                (r["metrics"]["labelled_rows"], r["metrics"]["accuracy"]) for r in rs if r["system"].startswith(kind)
            )
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{kind} (labelled rows)")
        for r, color in zip(
            [r for r in rs if r["system"].startswith("zero-shot")],
            ["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"],
        ):
            ax.axhline(
                r["metrics"]["accuracy"],
                color=color,
                ls="--",
                lw=1,
                label=r["system"].split(" [")[0] + (" (top 20%)" if "20%" in r["setting"] else ""),
            )
        ax.set_xscale("log")
        ax.set_xlabel("labelled training rows")
        ax.set_ylabel("accuracy")
        ax.set_title(d)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5)
    save_figure(fig, path, dpi=120)


def write(rows: list[dict], name: str, command: str, out: Path, notes: str = "") -> None:
    """The json, the markdown and the figure of ``rows``."""
    write_results(name, command, 2, rows, {"notes": notes}, out=out)
    cols = ["accuracy", "macro_f1", "labelled_rows", "seed_accuracy", "seconds"]
    (out / f"{name}.md").write_text(
        f"# {name}\n\n`{command}`\n\n"
        + __doc__.split("\n\n", 2)[2].strip()
        + f"\n\n![curve]({name}.png)\n\n"
        + (notes + "\n\n" if notes else "")
        + markdown_table(rows, cols)
        + "\n"
    )
    plot(rows, out / f"{name}.png")


def main() -> None:
    from benchmarks.classify_data import load_arxiv, load_split_file, minilm_vectors
    from benchmarks.classify_goals import tfidf_vectors
    from vectree.embed import SentenceEncoder

    parser = arguments(__doc__, quick="small slices, under a minute")
    parser.add_argument("--datasets", default="arxiv,20ng,movies")
    args = parser.parse_args()
    name = "classify-zeroshot" + ("-quick" if args.quick else "")
    command = "python benchmarks/classify_zeroshot.py" + (" --quick" if args.quick else "")
    wanted = args.datasets.split(",")
    rows: list[dict] = []
    if (args.out / f"{name}.json").exists():  # datasets measured by an earlier run of the same command are kept
        rows = [r for r in json.loads((args.out / f"{name}.json").read_text())["rows"] if r["dataset"] not in wanted]
    for d in wanted:
        if d == "arxiv":
            ds = load_arxiv(args.quick)
            rows += run_dataset(ds, ds["minilm_train"], ds["minilm_test"], SentenceEncoder(), "minilm")
        elif d == "movies":
            ds = load_split_file("movies", "movie-review-polarity.jsonl.gz", args.quick)
            minilm_vectors(ds, args.quick)
            rows += run_dataset(ds, ds["minilm_train"], ds["minilm_test"], SentenceEncoder(), "minilm")
        else:
            ds = load_split_file("20ng", "20newsgroups-bydate.jsonl.gz", args.quick)
            dim = 64 if args.quick else 256
            tr, te, _, emb = tfidf_vectors(ds, dim, args.quick)  # the embedder encodes the descriptions too
            rows += run_dataset(ds, tr, te, emb, f"tfidf-lsa-{dim}")
        write(rows, name, command, args.out)
    print(f"[classify zeroshot] wrote {args.out}/{name}.json/.md/.png", flush=True)


def run_zeroshot(ds: dict[str, Any], quick: bool) -> list[dict]:
    """arXiv's zero-shot rows (what benchmarks/classify.py's zeroshot part runs)."""
    from vectree.embed import SentenceEncoder

    return run_dataset(ds, ds["minilm_train"], ds["minilm_test"], SentenceEncoder(), "minilm")


if __name__ == "__main__":
    main()
