"""Experiments benchmark: are the A/B statistics calibrated, and what do the training-data tools find on real data?

Rows:
- calibration: false-positive rate of simulated A/A tests and power at the planned sample size
  (two-proportion z-test, Welch's t-test on normal and on skewed outcomes);
- peeking: the false-positive rate when a test is checked 1, 5, 20 or 100 times, fixed-horizon z-test
  against the always-valid mSPRT, and the mSPRT's power;
- near duplicates on real arXiv embeddings (all-MiniLM-L6-v2): pairs found through a vectree collection
  (probes=8) against the exact scan, and the time each takes;
- splits and learning curve on the same embeddings (label = primary category): a random split against a
  time split (train on older papers, validate on newer ones), and validation accuracy against the number
  of training rows ("do we need more data?").

Usage: python benchmarks/experiments.py [--quick] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vectree.experiments import sample_size_means, sample_size_proportions  # noqa: E402
from vectree.experiments.data import learning_curve, near_duplicate_pairs, random_split, time_split  # noqa: E402
from vectree.experiments.simulate import rejection_rate_means, rejection_rate_proportions, simulate_peeking  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SYSTEM = "vectree.experiments"


def _row(setting: str, dataset: str, **metrics) -> dict:
    return {"system": SYSTEM, "setting": setting, "dataset": dataset,
            "metrics": {k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.items()}}


def calibration(n_sims: int, seeds: int) -> list[dict]:
    rows = []
    plan = sample_size_proportions(0.10, 0.02)
    fpr = [rejection_rate_proportions(n_sims, plan.n_control, 0.10, 0.10, seed=s) for s in range(seeds)]
    pw = [rejection_rate_proportions(n_sims, plan.n_control, 0.10, 0.12, seed=100 + s) for s in range(seeds)]
    rows.append(_row(f"two-proportion z-test, p=0.10, mde=+0.02, n={plan.n_control}/arm", f"simulated x{n_sims} x{seeds} seeds",
                     alpha=0.05, false_positive_rate=float(np.mean(fpr)), false_positive_rate_min=min(fpr),
                     false_positive_rate_max=max(fpr), planned_power=0.8, simulated_power=float(np.mean(pw))))
    m = sample_size_means(1.0, 5.0)
    for skew in (False, True):
        fpr = [rejection_rate_means(n_sims, m.n_control, 0.0, 5.0, skew=skew, seed=s) for s in range(seeds)]
        pw = [rejection_rate_means(n_sims, m.n_control, 1.0, 5.0, skew=skew, seed=100 + s) for s in range(seeds)]
        rows.append(_row(f"Welch's t-test, {'exponential' if skew else 'normal'} outcomes, sd=5, mde=+1, n={m.n_control}/arm",
                         f"simulated x{n_sims} x{seeds} seeds", alpha=0.05, false_positive_rate=float(np.mean(fpr)),
                         false_positive_rate_min=min(fpr), false_positive_rate_max=max(fpr), planned_power=0.8,
                         simulated_power=float(np.mean(pw))))
    return rows


def peeking(n_sims: int) -> list[dict]:
    rows = []
    for looks in (1, 5, 20, 100):
        aa = simulate_peeking(n_sims, 10000, n_looks=looks, p_control=0.1, tau=0.012, seed=looks)
        ab = simulate_peeking(n_sims, 10000, n_looks=looks, p_control=0.1, p_variant=0.112, tau=0.012, seed=1000 + looks)
        rows.append(_row(f"{looks} looks, p=0.10, effect +0.012, n=10000/arm, tau=0.012", f"simulated x{n_sims}", alpha=0.05,
                         naive_false_positive_rate=aa.naive_any_look, msprt_false_positive_rate=aa.msprt_any_look,
                         naive_power=ab.naive_any_look, msprt_power=ab.msprt_any_look))
    return rows


def _arxiv(data: Path, n: int) -> tuple[np.ndarray, list[dict]]:
    vec = np.load(data / "arxiv-abstracts-minilm.npy", mmap_mode="r")
    with gzip.open(data / "arxiv-abstracts.jsonl.gz", "rt") as f:
        meta = [json.loads(line) for line in itertools.islice(f, n)]
    return np.asarray(vec[:n], dtype=np.float32), meta


def near_duplicates(x: np.ndarray, meta: list[dict], threshold: float) -> tuple[list[dict], list[dict]]:
    t = time.perf_counter()
    approx = near_duplicate_pairs(x, threshold=threshold, probes=8)
    t_approx = time.perf_counter() - t
    t = time.perf_counter()
    exact = near_duplicate_pairs(x, threshold=threshold, exact=True)
    t_exact = time.perf_counter() - t
    found = set(zip(approx["i"], approx["j"]))
    truth = set(zip(exact["i"], exact["j"]))
    recall = len(found & truth) / len(truth) if truth else 1.0
    ds = f"arxiv-minilm first {len(x):,}"
    rows = [_row(f"near duplicates, cosine distance <= {threshold}, probes=8", ds, pairs=len(found), pair_recall=recall,
                 time_s=t_approx),
            _row(f"near duplicates, cosine distance <= {threshold}, exact scan", ds, pairs=len(truth), time_s=t_exact)]
    examples = [{"a": meta[i]["id"], "b": meta[j]["id"], "distance": float(d), "title_a": meta[i]["title"][:70],
                 "title_b": meta[j]["title"][:70]} for i, j, d in exact.head(5).itertuples(index=False)]
    return rows, examples


def splits_and_curve(x: np.ndarray, meta: list[dict], sizes: list[int], quick: bool):
    from sklearn.linear_model import RidgeClassifier
    from sklearn.metrics import balanced_accuracy_score

    cats = np.array([m["primary_category"] for m in meta])
    uniq, counts = np.unique(cats, return_counts=True)
    keep = np.isin(cats, uniq[counts >= max(50, len(cats) // 150)])
    x, cats, dates = x[keep], cats[keep], np.array([m["date"] for m in meta])[keep]
    model = RidgeClassifier(alpha=1.0)  # linear, closed form: seconds where logistic regression takes minutes here
    rows = []
    split_rows = {}
    for name, split in (("random", random_split(len(x), (0.8, 0.2, 0.0), seed=0)), ("time", time_split(dates, (0.8, 0.2, 0.0)))):
        t = time.perf_counter()
        fitted = RidgeClassifier(alpha=1.0).fit(x[split.train], cats[split.train])
        pred = fitted.predict(x[split.validation])
        acc = float((pred == cats[split.validation]).mean())
        bal = float(balanced_accuracy_score(cats[split.validation], pred))
        split_rows[name] = {"accuracy": round(acc, 4), "balanced_accuracy": round(bal, 4)}
        rows.append(_row(f"ridge classifier, {name} split 80/20", f"arxiv-minilm {len(x):,} rows, {len(set(cats))} classes",
                         validation_accuracy=acc, validation_balanced_accuracy=bal, train_rows=int(len(split.train)),
                         fit_s=time.perf_counter() - t))
    ts = time_split(dates, (0.8, 0.2, 0.0))
    t = time.perf_counter()
    lc = learning_curve(model, x[ts.train], cats[ts.train], validation=(x[ts.validation], cats[ts.validation]),
                        train_sizes=[s for s in sizes if s <= len(ts.train)], repeats=1)
    for r in lc.rows():
        rows.append(_row(f"learning curve (time split), n_train={r['n_train']}", f"arxiv-minilm {len(x):,} rows",
                         validation_accuracy=r["val_mean"], train_accuracy=r["train_mean"]))
    return rows, lc, time.perf_counter() - t, split_rows


def plot(rows_peek: list[dict], lc, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    looks = [r["setting"].split()[0] for r in rows_peek]
    xs = np.arange(len(looks))
    a.bar(xs - 0.2, [r["metrics"]["naive_false_positive_rate"] for r in rows_peek], 0.4, label="fixed-horizon z-test")
    a.bar(xs + 0.2, [r["metrics"]["msprt_false_positive_rate"] for r in rows_peek], 0.4, label="always-valid mSPRT")
    a.axhline(0.05, color="black", linestyle="--", linewidth=0.8, label="alpha = 0.05")
    a.set_xticks(xs, looks)
    a.set_xlabel("number of looks at the data")
    a.set_ylabel("false-positive rate (A/A)")
    a.set_title("Peeking: false positives")
    a.legend(loc="upper left")
    b.plot(lc.sizes, lc.val_mean, marker="o", label="validation (newer papers)")
    b.plot(lc.sizes, lc.train_mean, marker="o", label="train")
    b.set_xscale("log")
    b.minorticks_off()
    b.set_xticks(lc.sizes, [f"{s:,}" for s in lc.sizes], rotation=30)
    b.set_xlabel("training rows (older papers)")
    b.set_ylabel("accuracy")
    b.set_title("Learning curve: arXiv category from MiniLM embeddings")
    b.grid(True, alpha=0.3)
    b.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run in under a minute")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VECTREE_SHARED_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    q = args.quick
    started = time.perf_counter()
    rows = calibration(n_sims=500 if q else 2000, seeds=1 if q else 5)
    peek = peeking(500 if q else 2000)
    rows += peek
    extra: dict = {}
    lc = None
    if (args.data / "arxiv-abstracts-minilm.npy").is_file():
        n = 4000 if q else 20000
        x, meta = _arxiv(args.data, n)
        nd_rows, examples = near_duplicates(x, meta, threshold=0.02)
        rows += nd_rows
        extra["near_duplicate_examples"] = examples
        n_curve = 6000 if q else 72000
        x2, meta2 = (x, meta) if n_curve <= n else _arxiv(args.data, n_curve)
        sizes = [250, 500, 1000, 2000, 4000] if q else [500, 1000, 2000, 4000, 8000, 16000, 32000, 1.0]  # 1.0 = all training rows
        curve_rows, lc, lc_s, split_acc = splits_and_curve(x2[:n_curve], meta2[:n_curve], sizes, q)
        rows += curve_rows
        extra.update({"learning_curve_verdict": lc.verdict, "learning_curve_s": round(lc_s, 1), "split_accuracy": split_acc})
    else:
        extra["skipped"] = f"no shared data at {args.data}: near-duplicate and learning-curve rows skipped"
    import numpy as _np
    import scipy
    import sklearn
    import statsmodels

    result = {
        "benchmark": "experiments",
        "command": "python benchmarks/experiments.py" + (" --quick" if q else ""),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": _np.__version__, "scipy": scipy.__version__,
                    "statsmodels": statsmodels.__version__, "scikit_learn": sklearn.__version__},
        "date": date.today().isoformat(),
        "total_s": round(time.perf_counter() - started, 1),
        "rows": rows,
        **extra,
    }
    name = "experiments-quick" if q else "experiments"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    lines = [f"# {name}", "", f"`{result['command']}` on {result['date']} ({result['machine']['cpus']} CPUs, "
             f"Python {result['machine']['python']}), {result['total_s']} s.", "",
             "| setting | dataset | metrics |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['dataset']} | " + ", ".join(f"{k}={v}" for k, v in r["metrics"].items()) + " |")
    for key in ("learning_curve_verdict", "split_accuracy", "skipped"):
        if key in extra:
            lines += ["", f"{key.replace('_', ' ')}: {extra[key]}"]
    if "near_duplicate_examples" in extra:
        lines += ["", "Near duplicates found (exact scan):", ""]
        lines += [f"- {e['a']} / {e['b']} (distance {e['distance']:.4f}): \"{e['title_a']}\" / \"{e['title_b']}\"" for e in extra["near_duplicate_examples"]]
    if lc is not None:
        plot(peek, lc, args.out / f"{name}.png")
        lines += ["", f"![peeking and learning curve]({name}.png)"]
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
