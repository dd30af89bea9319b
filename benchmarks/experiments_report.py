"""The experiments benchmark's figure and README block."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vectree.figures import pyplot, save_figure  # noqa: E402


def plot(rows_peek: list[dict], lc, cuped_rows: list[dict], curves: dict, fdr_rows: list[dict], path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(2, 3, figsize=(16, 8.4), dpi=100)
    a, b, c, d, e, f = axes.ravel()
    looks = [r["setting"].split()[0] for r in rows_peek]
    xs = np.arange(len(looks))
    a.bar(xs - 0.2, [r["metrics"]["naive_false_positive_rate"] for r in rows_peek], 0.4, label="fixed-horizon z-test")
    a.bar(xs + 0.2, [r["metrics"]["msprt_false_positive_rate"] for r in rows_peek], 0.4, label="always-valid mSPRT")
    a.axhline(0.05, color="black", linestyle="--", linewidth=0.8, label="alpha = 0.05")
    a.set_xticks(xs, looks)
    a.set_xlabel("number of looks at the data")
    a.set_ylabel("false-positive rate (A/A)")
    a.set_title("Peeking: false positives")
    a.legend(loc="upper left", fontsize=8)
    if lc is not None:
        b.plot(lc.sizes, lc.val_mean, marker="o", label="validation (newer papers)")
        b.plot(lc.sizes, lc.train_mean, marker="o", label="train")
        b.set_xscale("log")
        b.minorticks_off()
        b.set_xticks(lc.sizes, [f"{s:,}" for s in lc.sizes], rotation=30)
        b.set_xlabel("training rows (older papers)")
        b.set_ylabel("accuracy")
        b.set_title("Learning curve: arXiv category from MiniLM embeddings")
        b.grid(True, alpha=0.3)
        b.legend(loc="best", fontsize=8)
    else:
        b.axis("off")
        b.text(0.5, 0.5, "no shared arXiv data: learning curve skipped", ha="center")
    rhos = [r["metrics"]["rho"] for r in cuped_rows]
    xs = np.arange(len(rhos))
    c.bar(xs - 0.2, [r["metrics"]["theoretical_variance_ratio"] for r in cuped_rows], 0.4, label="1 - rho^2")
    c.bar(
        xs + 0.2,
        [r["metrics"]["measured_variance_ratio"] for r in cuped_rows],
        0.4,
        label="measured var(adjusted) / var(raw)",
    )
    for x, r in zip(xs, cuped_rows):
        m = r["metrics"]
        c.text(
            x,
            m["theoretical_variance_ratio"] + 0.03,
            f"power {m['simulated_power']:.3f}\nFPR {m['false_positive_rate']:.3f}\n"
            f"n {m['n_per_arm']} vs {m['n_per_arm_without_cuped']}",
            ha="center",
            fontsize=7,
        )
    c.set_xticks(xs, [f"rho = {r}" for r in rhos])
    c.set_ylim(0, 1.25)
    c.set_ylabel("variance ratio")
    c.set_title("CUPED: variance kept, power at the CUPED plan")
    c.legend(loc="upper right", fontsize=8)
    for name, cal in curves.items():
        pts = [(v["mean_chance_to_win"], v["truly_win"]) for v in cal.values() if v["runs"] >= 20]
        d.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    d.plot([0.5, 1], [0.5, 1], color="black", linewidth=0.8, linestyle="--")
    d.axvspan(0.9, 0.95, color="grey", alpha=0.15)
    d.set_xlabel("reported chance to win (bin mean)")
    d.set_ylabel("share that truly win")
    d.set_title("Bayesian chance to win: calibration")
    d.legend(loc="upper left", fontsize=7)
    labels = [r["setting"].split(", ")[-1] for r in fdr_rows]
    xs = np.arange(len(labels))
    for k, (key, lab) in enumerate(
        (("false_discovery_rate", "FDR"), ("family_wise_error_rate", "FWER"), ("power", "power"))
    ):
        e.bar(xs + (k - 1) * 0.27, [r["metrics"][key] for r in fdr_rows], 0.27, label=lab)
    e.axhline(0.05, color="black", linestyle="--", linewidth=0.8)
    e.set_xticks(xs, labels, fontsize=8)
    e.set_title("20 metrics, 5 true effects")
    e.legend(loc="upper left", fontsize=8)
    f.axis("off")
    save_figure(fig, path)


def readme_block(result: dict) -> str:
    """The README's experiments summary, from a results file (no number typed by hand)."""
    rows = {r["setting"]: r["metrics"] for r in result["rows"]}

    def pick(prefix: str) -> list[tuple[str, dict]]:
        return [(s, m) for s, m in rows.items() if s.startswith(prefix)]

    out = [
        f"From `{result['command']}` ({result['date']}, {result['machine']['cpus']} cores; every rate over "
        "simulated runs "
        "with a known truth, the same functions an analysis calls):",
        "",
        "| check | goal | measured |",
        "|---|---|---|",
    ]
    for _, m in pick("CUPED"):
        out.append(
            f"| CUPED, rho = {m['rho']}: variance of the adjusted outcome | 1 - rho^2 = "
            f"{m['theoretical_variance_ratio']:.2f} "
            f"| {m['measured_variance_ratio']:.3f} |"
        )
        out.append(
            f"| CUPED, rho = {m['rho']}: A/A false positives; power at the CUPED plan ({m['n_per_arm']} instead of "
            f"{m['n_per_arm_without_cuped']} units/arm) | 0.05 +- 0.01; 0.80 | {m['false_positive_rate']:.4f}; "
            f"{m['simulated_power']:.4f} |"
        )
    for s, m in pick("ratio"):
        what = "delta method" if "delta" in s else "sessions as independent (wrong)"
        out.append(
            f"| ratio metric clicks/sessions, 95% interval coverage, {what} | 0.95 +- 0.01 | {m['coverage']:.4f} |"
        )
    for s, m in pick("20 metrics"):
        name = s.split(", ")[-2] if "Benjamini" not in s else "Benjamini-Hochberg"
        if "Holm" in s:
            out.append(
                "| 20 metrics, 5 true effects: Holm family-wise error; power | <= 0.05 | "
                f"{m['family_wise_error_rate']:.4f}; {m['power']:.3f} |"
            )
        elif "Benjamini" in s:
            out.append(
                "| 20 metrics, 5 true effects: BH false discovery rate; power | <= q = 0.05 | "
                f"{m['false_discovery_rate']:.4f}; {m['power']:.3f} |"
            )
        else:
            out.append(
                f"| 20 metrics, 5 true effects: uncorrected false discovery rate; family-wise error | (for contrast) "
                f"| {m['false_discovery_rate']:.4f}; {m['family_wise_error_rate']:.4f} |"
            )
    for s, m in pick("chance to win"):
        label = s[len("chance to win, ") :].rsplit(",", 1)[0]
        out.append(
            f"| chance to win, {label}: of {m['runs_reporting_90_95']} runs reporting 90-95% (mean "
            f"{m['mean_reported']:.3f}), "
            f"share that truly win | 0.90-0.95 | {m['truly_win']:.4f} |"
        )
    for _, m in pick("sequential hybrid"):
        out.append(
            f"| sequential hybrid (mSPRT looks at alpha/2, final test at {m['alpha_final']:.4f}): A/A false "
            "positives; power "
            f"| 0.05; plan 0.80 | {m['false_positive_rate']:.4f}; {m['simulated_power']:.4f} (stopped early in "
            f"{m['stopped_early']:.1%}, "
            f"{m['traffic_saved']:.1%} less traffic) |"
        )
    for _, m in pick("SRM"):
        if "false_alarm_rate" in m:
            out.append(f"| SRM at p < 0.001, A/A false alarms | 0.001 | {m['false_alarm_rate']:.4f} |")
        else:
            out.append(
                f"| SRM, treatment loses 25% of one browser's units: flagged; explained by that browser | 1; 1 "
                f"| {m['detection_rate']:.2f}; {m['explained_by_browser_safari']:.2f} |"
            )
    ml = result.get("movielens_ab")
    if ml:
        fun = pick("funnel A/B")
        bts = [
            (s[len("funnel backtest: ") :].split(", forward")[0], m)
            for s, m in rows.items()
            if s.startswith("funnel backtest")
        ]
        out += [
            "",
            f"MovieLens 100k, replayed: each user's held-out 20% of ratings are the items they would click; "
            f"B = {ml['settings']['B']} against A = {ml['settings']['A']}, 20% of the slots explored with logged "
            "propensities, "
            f"{sum(ml['units'].values())} users in the forward run ("
            + ", ".join(f"{k} {v}" for k, v in ml["units"].items())
            + "):",
            "",
            "| metric | A | B | relative lift | p | BH p | chance to win | CUPED variance reduction |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s, m in fun:
            name = s[len("funnel A/B: ") :].split(", B = ")[0]
            vr = m["variance_reduction"]
            out.append(
                f"| {name} | {m['control']:.4g} | {m['variant']:.4g} | {m['rel_lift']:+.1%} | {m['p_value']:.3g} | "
                f"{m['p_bh']:.3g} "
                f"| {m['chance_to_win']:.1%} | {vr if isinstance(vr, str) else f'{vr:.1%}'} |"
            )
        out += [
            "",
            "Backtest (a reverse run, B the control, every user re-randomised):",
            "",
            "| metric | gain (forward, B - A) | p | loss in reverse (A - B) | p | gain + loss [p] | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        out += [
            f"| {name} | {m['gain']:+.4g} | {m['forward_p_value']:.3g} | {m['loss']:+.4g} | {m['reverse_p_value']:.3g} "
            f"| {m['asymmetry']:+.4g} [{m['asymmetry_p_value']:.3g}] | {m['verdict']} |"
            for name, m in bts
        ]
        out += [
            "",
            f"{ml['srm'][0].upper() + ml['srm'][1:]}. The explored slots draw items the same way in both arms, yet "
            "their "
            "click rate is no A/A guardrail: next to a better ranking, users have already clicked the items they "
            "wanted "
            "(each at most once), so the random slots click less (tested in "
            "`tests/experiments/test_slate_ab_replay.py`).",
        ]
    return "\n".join(out)


def write_readme(result: dict, readme: Path) -> None:
    text = readme.read_text()
    begin, end = "<!-- experiments:begin -->", "<!-- experiments:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{readme} has no {begin} .. {end} block")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + begin + "\n" + readme_block(result) + "\n" + end + tail)
