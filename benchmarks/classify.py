"""Document classification: vectree's k-NN classifier against fastText and TF-IDF + logistic regression.

    python benchmarks/classify.py            # arXiv (time split), 20 Newsgroups, movie reviews, zero-shot
    python benchmarks/classify.py --quick    # small slices, under a minute

Writes benchmarks/results/classify-{arxiv,20ng,movies,zeroshot-arxiv}.{json,md} and classify.png
(accuracy against ms per document). Data: ../shared/data (or $VECTREE_SHARED_DATA).

- arXiv: label primary_category, text title + ". " + abstract; train on 2025-03..2026-03, test on
  2026-04 (no shuffling across time). MiniLM vectors come from the shared precomputed .npy (the same
  model the encoder loads; embedding cost is then measured on a sample of test texts).
- 20 Newsgroups ("bydate") and movie-review sentence polarity: their standard train/test splits.
- Search time is the time of ``predict_embeddings`` (collection search + vote) per test document,
  in batches of 2048; embedding time is reported separately.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classify_data import DATA, load_arxiv, load_split_file  # noqa: E402
from benchmarks.classify_report import arxiv_note, plot, write_markdown  # noqa: E402
from benchmarks.classify_systems import run_dataset  # noqa: E402
from benchmarks.classify_variants import MOVIE_NAMES, run_variants, run_zeroshot_names  # noqa: E402
from benchmarks.classify_zeroshot import run_zeroshot  # noqa: E402
from benchmarks.common import RESULTS, markdown_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small slices, under a minute")
    parser.add_argument("--datasets", default="arxiv,20ng,movies,zeroshot")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="only the issue-20 variants (TF-IDF-LSA, combined encoders, linear head, zero-shot on all "
        "three) into classify-variants.{json,md}",
    )
    args = parser.parse_args()
    if args.variants:
        return main_variants(args.quick, args.datasets)
    command = (
        "python benchmarks/classify.py"
        + (" --quick" if args.quick else "")
        + (f" --datasets {args.datasets}" if args.datasets != "arxiv,20ng,movies,zeroshot" else "")
    )
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}: set VECTREE_SHARED_DATA")
    wanted = args.datasets.split(",")
    if args.quick and args.datasets == "arxiv,20ng,movies,zeroshot":
        wanted = ["arxiv", "movies", "zeroshot"]  # 20 Newsgroups' long posts take the minute alone
    tag = "-quick" if args.quick else ""  # quick runs never overwrite the full results
    all_rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vectree-classify-bench-") as workdir:
        loaders = {
            "arxiv": lambda: load_arxiv(args.quick),
            "20ng": lambda: load_split_file("20ng", "20newsgroups-bydate.jsonl.gz", args.quick),
            "movies": lambda: load_split_file("movies", "movie-review-polarity.jsonl.gz", args.quick),
        }
        for name in [n for n in ("arxiv", "20ng", "movies") if n in wanted]:
            ds = loaders[name]()

            def save(rows: list[dict], name: str = name, ds: dict = ds, complete: bool = False) -> None:
                note = arxiv_note(rows) if name == "arxiv" else f"Split: {ds['split']}."
                if not complete:
                    note = "PARTIAL: the run stopped before every system had run.\n\n" + note
                write_results(f"classify-{name}{tag}", command, 2, rows, {"split": ds["split"], "complete": complete})
                write_markdown(f"classify-{name}{tag}", command, rows, note)

            rows = run_dataset(ds, args.quick, workdir, save)
            save(rows, complete=True)
            all_rows += rows
        if "zeroshot" in wanted:  # on arXiv only here; benchmarks/classify_zeroshot.py runs all three datasets
            from benchmarks.classify_zeroshot import write as write_zeroshot

            ds = load_arxiv(args.quick)
            write_zeroshot(run_zeroshot(ds, args.quick), f"classify-zeroshot-arxiv{tag}", command, RESULTS)
    saved = [
        row
        for n in ("arxiv", "20ng", "movies")
        if (RESULTS / f"classify-{n}{tag}.json").exists()
        for row in json.loads((RESULTS / f"classify-{n}{tag}.json").read_text())["rows"]
    ]
    if saved:
        plot(saved, RESULTS / f"classify{tag}.png")
    print(f"[classify] wrote {RESULTS}/classify-*.json/.md", flush=True)


def main_variants(quick: bool, datasets: str) -> None:
    """The variants run: each dataset's rows are saved as soon as they are measured."""
    from vectree.embed import SentenceEncoder as _ST
    from vectree.embed import StaticEmbedder as _SE

    command = "python benchmarks/classify.py --variants" + (" --quick" if quick else "")
    tag = "-quick" if quick else ""
    rows: list[dict] = []
    loaders = {
        "arxiv": lambda: load_arxiv(quick),
        "20ng": lambda: load_split_file("20ng", "20newsgroups-bydate.jsonl.gz", quick),
        "movies": lambda: load_split_file("movies", "movie-review-polarity.jsonl.gz", quick),
    }

    def save() -> None:
        write_results(f"classify-variants{tag}", command, 2, rows)
        cols = ["accuracy", "macro_f1", "search_ms_per_doc", "train_s"]
        (RESULTS / f"classify-variants{tag}.md").write_text(
            f"# classify-variants{tag}\n\n`{command}`\n\nThe issue-20 variants around the kNN vote on the same splits "
            "as classify-{arxiv,20ng,movies}.md (whose fastText and TF-IDF + logistic regression rows are the peers). "
            "'linear head' mixes the vote with softmax regression on the same vectors; its weight is chosen on 10% of "
            "the training rows held out (weights 0 and 1 shown for reference: 0 is the vote alone).\n\n"
            + markdown_table(rows, cols)
            + "\n"
        )

    wanted = [d for d in datasets.split(",") if d in loaders]
    for name in wanted:
        ds = loaders[name]()
        print(f"[classify variants] {name}: {len(ds['train_texts'])} train, {len(ds['test_texts'])} test", flush=True)
        rows += run_variants(ds, quick)
        save()
        if name == "movies":
            enc = _ST()
            rows.append(run_zeroshot_names(ds, MOVIE_NAMES, "{}", enc, "minilm"))
            save()
        if name == "20ng":
            groups = {
                g: g.replace(".", " ")
                .replace("misc", "miscellaneous")
                .replace("comp", "computers")
                .replace("rec", "recreation")
                .replace("sci", "science")
                .replace("soc", "society")
                .replace("talk", "discussion")
                .replace("os ms-windows", "windows operating system")
                .replace("sys", "hardware")
                .replace("ibm pc", "PC")
                for g in sorted(set(ds["train_labels"]))
            }
            rows.append(run_zeroshot_names(ds, groups, "A newsgroup post about {}.", _SE(), "static-64d"))
            save()


if __name__ == "__main__":
    main()
