"""The reproductions' tables of the docs, their numbers read from the runs: the Reproductions
page's table and the seed articles' claims.

Each reproduction's fast tier is a folder of runs that `scripts/reproduce.sh NAME` writes
(`<dir>/NAME/fast/`). For every row this script reads those runs' results.json (and, where a
claim is about steps, their metrics.csv) and writes the "measured" cell from them, with the
number of runs and the time from the first run's start to the last one's end. What each paper
published, our setup and the verdict are the docs' words, kept here beside the numbers they
rest on; the slow tests of `tests/test_reproductions.py` assert each verdict on a fresh run.

    python scripts/reproductions_table.py [--dir reproductions] [--run] [--only NAME ...]
                                          [--markdown [PATH]] [--claims-markdown [PATH]]

`--run` first runs, one after the other, each reproduction whose folder is missing.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from measured import MEASURED, ROOT, add_option, write  # scripts/ is on sys.path

Run = dict[str, Any]


def load_runs(folder: Path) -> list[Run]:
    """Every run's results.json, with the time it was written (the run's end)."""
    paths = sorted(folder.rglob("results.json"))
    return [{**json.loads(p.read_text()), "ended_at": p.stat().st_mtime} for p in paths]


def by(runs: Iterable[Run], key: Callable[[Run], Any]) -> dict[Any, list[Run]]:
    groups: dict[Any, list[Run]] = defaultdict(list)
    for run in runs:
        groups[key(run)].append(run)
    return groups


def name(run: Run) -> str:
    """The optimizer's class name (the rows' labels)."""
    return run["config"]["optimizer"]["_target_"].rsplit(".", 1)[1]


def model(run: Run) -> str:
    return run["config"]["model"]["_target_"].rsplit(".", 1)[1]


def opt(run: Run, key: str) -> Any:
    return run["config"]["optimizer"][key]


def column(run: Run, metric: str) -> list[float]:
    """One metric's logged values in step order, from the run's metrics.csv."""
    with open(Path(run["output_dir"]) / "metrics.csv", newline="") as file:
        return [float(row[metric]) for row in csv.DictReader(file) if row.get(metric)]


def first_epoch(run: Run, metric: str, threshold: float) -> float:
    return next((r["epoch"] for r in run["history"] if r[metric] >= threshold), math.inf)


def g(value: float, digits: int = 3) -> str:
    """A number as the docs print it: `digits` significant figures, thousands separated."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def ranked(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {g(v)}" for k, v in sorted(values.items(), key=lambda kv: kv[1]))


def tuned(runs: list[Run], metric: str) -> dict[str, float]:
    """Per optimizer, the lowest seed-mean `metric` over its learning rates whose seeds all
    completed, as a paper's tuned comparison reports it."""
    means: dict[str, list[float]] = defaultdict(list)
    for (label, _), group in by(runs, lambda r: (name(r), opt(r, "lr"))).items():
        if all(r["status"] == "completed" for r in group):
            means[label].append(mean(r["final"][metric] for r in group))
    return {label: min(values) for label, values in means.items()}


# One function per row: its runs in, the "measured" cell out.


def adam_vs_sgd(runs: list[Run]) -> str:
    models = by(runs, model)
    cells = []
    for label, key in (("CNN", "CNN"), ("logreg", "LogisticRegression"), ("MLP", "MLP")):
        best = tuned(models[key], "train/loss_epoch")
        cells.append(f"{label} {ranked(best)}")
    return "best lr per optimizer, final training loss (mean of 2 seeds): " + "; ".join(cells)


def bias_correction(runs: list[Run]) -> str:
    first = {
        (name(r), opt(r, "beta1"), opt(r, "beta2"), opt(r, "lr")): r["history"][0][
            "train/loss_epoch"
        ]
        for r in runs
    }

    betas = (0.99, 0.999, 0.9999)
    with_ = " / ".join(g(first["Adam", 0.0, b, 1e-2], 2) for b in betas)
    without = " / ".join(g(first["AdamNoBiasCorrection", 0.0, b, 1e-2], 2) for b in betas)
    return (
        f"epoch-1 training loss at lr 1e-2, beta1 = 0: with correction {with_} for beta2 = "
        f"0.99 / 0.999 / 0.9999; without {without}"
    )


def amsgrad_counterexample(runs: list[Run]) -> str:
    x = {(r["config"]["data"]["stochastic"], name(r)): r["final"]["val/x"] for r in runs}
    return (
        f"final x: online Adam {x[False, 'Adam']:+.2f}, AMSGrad {x[False, 'AMSGrad']:+.2f}; "
        f"stochastic Adam {x[True, 'Adam']:+.2f}, AMSGrad {x[True, 'AMSGrad']:+.2f}"
    )


def adamw_vs_l2(runs: list[Run]) -> str:
    acc = {
        (name(r), opt(r, "lr"), opt(r, "weight_decay")): r["final"].get("val/acc") or 0.0
        for r in runs
    }
    lrs = sorted({lr for _, lr, _ in acc})
    decays = sorted({wd for _, _, wd in acc})

    def spread(label: str, lr: float) -> float:
        values = [acc[label, lr, wd] for wd in decays]
        return max(values) - min(values)

    best_lr, best = max(((k[1], v) for k, v in acc.items() if k[0] == "AdamW"), key=lambda t: t[1])
    adam_low = max(acc["Adam", lr, decays[0]] for lr in lrs)
    adam_high = max(acc["Adam", lr, decays[-1]] for lr in lrs)
    return (
        f"AdamW's validation accuracy across weight decay {g(decays[0])} to {g(decays[-1])} "
        f"varies by at most {max(spread('AdamW', lr) for lr in lrs):.2f} at any lr (best "
        f"{best:.3f} at lr {g(best_lr)}); Adam + L2 by up to "
        f"{max(spread('Adam', lr) for lr in lrs):.2f}: its best accuracy falls from "
        f"{adam_low:.3f} at the smallest L2 factor to {adam_high:.3f} at the largest"
    )


def grokking(runs: list[Run]) -> str:
    runs_by = {opt(r, "weight_decay"): r for r in runs}

    def line(run: Run) -> str:
        best = max(h["val/acc"] for h in run["history"])
        val95 = first_epoch(run, "val/acc", 0.95)
        reached = f"validation 95% at epoch {val95}" if val95 < math.inf else "validation never 95%"
        return (
            f"training accuracy 95% at epoch {first_epoch(run, 'train/acc', 0.95)}, {reached}, "
            f"best validation {best:.3f}, final {run['final']['val/acc']:.3f}"
        )

    return f"weight decay 1: {line(runs_by[1.0])}; weight decay 0: {line(runs_by[0.0])}"


def noisy_quadratic(runs: list[Run]) -> str:
    completed = [r for r in runs if r["status"] == "completed"]
    best = {
        label: min(group, key=lambda r: r["final"]["val/loss"])
        for label, group in by(completed, name).items()
    }
    cells = [f"{k} {r['final']['test/loss']:.2f} (lr {g(opt(r, 'lr'))})" for k, r in best.items()]
    stopped = by((r for r in runs if r not in completed), name)
    diverged = [
        f"{k} at lr {', '.join(g(lr) for lr in sorted(opt(r, 'lr') for r in group))}"
        for k, group in sorted(stopped.items())
    ]
    return (
        f"best test loss (lr chosen on validation): {', '.join(cells)}; stopped as diverged: "
        f"{'; '.join(diverged) or 'none'}"
    )


MNIST1D_LABELS = {"LogisticRegression": "logistic regression", "MLP": "MLP", "CNN": "CNN",
                  "RNN": "GRU"}  # fmt: skip


def mnist1d_table(runs: list[Run]) -> str:
    acc = {MNIST1D_LABELS[model(r)]: r["final"]["test/acc"] for r in runs}
    cells = [f"{label} {100 * acc[label]:.1f}%" for label in MNIST1D_LABELS.values()]
    return "test accuracy: " + ", ".join(cells)


def adam_vs_sgd_speed(runs: list[Run]) -> str:
    cells, every = [], True
    for key, group in by(runs, model).items():
        named = by(group, name)
        for epoch in (0, -1):
            worst_adam = max(r["history"][epoch]["train/loss_epoch"] for r in named["Adam"])
            every &= worst_adam < min(r["history"][epoch]["train/loss_epoch"] for r in named["SGD"])
        loss = {k: mean(r["final"]["train/loss_epoch"] for r in named[k]) for k in ("Adam", "SGD")}
        acc = {k: mean(r["final"]["test/acc"] for r in named[k]) for k in ("Adam", "SGD")}
        cells.append(
            f"{key} loss {loss['Adam']:.2f} vs {loss['SGD']:.2f}, test accuracy "
            f"{acc['Adam']:.2f} vs {acc['SGD']:.2f}"
        )
    where = "for every seed" if every else "not for every seed"
    return (
        f"Adam's training loss is lower than SGD's after epoch 1 and at the end {where}; "
        f"final (mean of seeds) Adam vs SGD: {'; '.join(cells)}"
    )


def adagrad_late(runs: list[Run]) -> str:
    named = by(runs, name)
    fall = [column(r, "optim/eff_lr_p5") for r in named["Adagrad"]]
    rms = [column(r, "optim/eff_lr_p5") for r in named["RMSprop"]]
    best = {
        k: min(
            (r["final"]["train/loss_epoch"], opt(r, "lr"))
            for r in group
            if r["status"] == "completed"
        )
        for k, group in named.items()
    }

    def late(p5: list[float]) -> float:  # the second half's change: end / middle
        return p5[-1] / p5[len(p5) // 2]

    return (
        f"Adagrad's smallest effective steps (5th percentile of lr / (sqrt(s) + eps)) fall "
        f"{min(p[0] / p[-1] for p in fall):,.0f}x or more over training, still to "
        f"{max(map(late, fall)):.2f}x or less in its second half; RMSprop's second half ends at "
        f"{min(map(late, rms)):.2f}x or more; tuned, Adagrad (lr {g(best['Adagrad'][1])}) "
        f"reaches training loss {best['Adagrad'][0]:.3f}, RMSprop (lr {g(best['RMSprop'][1])}) "
        f"{best['RMSprop'][0]:.3f}"
    )


def beta1_stability(runs: list[Run]) -> str:
    def jitter(run: Run) -> float:
        losses = column(run, "train/loss")
        return mean(abs(b - a) for a, b in itertools.pairwise(losses))

    at = by(runs, lambda r: (opt(r, "lr"), opt(r, "beta1")))
    shake = {k: mean(map(jitter, group)) for k, group in at.items()}
    final = {k: mean(r["final"]["train/loss_epoch"] for r in group) for k, group in at.items()}
    slow = max(final, key=final.__getitem__)
    lows = " / ".join(f"{final[1e-3, b]:.2f}" for b in sorted({b for _, b in final}))
    return (
        f"step-to-step change of the training loss at lr 1e-2: {shake[1e-2, 0.0]:.3f} (beta1 0) "
        f"vs {shake[1e-2, 0.99]:.3f} (0.99); final training loss at lr 1e-3 for beta1 = "
        f"{' / '.join(g(b) for b in sorted({b for _, b in final}))}: {lows}; slowest: beta1 "
        f"{g(slow[1])} at lr {g(slow[0])}"
    )


def beta2_099_vs_0999(runs: list[Run]) -> str:
    windows = {opt(r, "beta2"): column(r, "optim/group0/beta2_window")[-1] for r in runs}
    cells, apart = [], 0.0
    for (key, lr), group in sorted(by(runs, lambda r: (model(r), opt(r, "lr"))).items()):
        acc = by(group, lambda r: opt(r, "beta2"))
        means = {b: mean(r["final"]["val/acc"] for r in acc[b]) for b in acc}
        spread = max(statistics.stdev(r["final"]["val/acc"] for r in acc[b]) for b in acc)
        apart = max(apart, abs(means[0.99] - means[0.999]) / spread)
        cells.append(f"{key} lr {g(lr)}: {means[0.99]:.3f} vs {means[0.999]:.3f}")
    return (
        f"the averaging window 1 / (1 - beta2) logged: {windows[0.99]:,.0f} steps for 0.99, "
        f"{windows[0.999]:,.0f} for 0.999; validation accuracy (0.99 vs 0.999, mean of seeds) "
        f"{'; '.join(cells)}: at most {apart:.1f} seed standard deviations apart"
    )


def bias_correction_early(runs: list[Run]) -> str:
    named = by(runs, name)
    rms = {k: mean(column(r, "optim/group0/update_rms")[0] for r in named[k]) for k in named}
    loss = {k: mean(r["history"][0]["train/loss_epoch"] for r in named[k]) for k in named}
    off, on = "AdamNoBiasCorrection", "Adam"
    return (
        f"the first update's RMS is {rms[off]:.2g} without correction vs {rms[on]:.2g} with it "
        f"({rms[off] / rms[on]:.2f}x); training loss after the first epoch {loss[off]:.2f} vs "
        f"{loss[on]:.2f}"
    )


def sparse_noisy(runs: list[Run]) -> str:
    cells = []
    for batch, group in sorted(by(runs, lambda r: r["config"]["data"]["batch_size"]).items()):
        loss = {name(r): r["final"]["train/loss_epoch"] for r in group}
        val = {name(r): r["final"]["val/acc"] for r in group}
        cells.append(
            f"batch {batch}: training loss {ranked(loss)}; Adam's val acc {val['Adam']:.2f}"
        )
    return f"{'; '.join(cells)} (chance: ln 97 = {math.log(97):.2f})"


@dataclass(frozen=True)
class Row:
    folder: str  # the runs: <dir>/<reproduction>/fast/<part>, as "reproduction[/part]"
    label: str
    published: str
    setup: str
    measure: Callable[[list[Run]], str]
    verdict: str

    @property
    def reproduction(self) -> str:
        return self.folder.partition("/")[0]

    def runs(self, folder: Path) -> list[Run]:
        return load_runs(folder / self.reproduction / "fast" / self.folder.partition("/")[2])


REPRODUCTIONS = [
    Row(
        "adam_vs_sgd",
        "`adam_vs_sgd`",
        "Kingma & Ba (2015), Figs. 1-3: Adam's training cost falls as fast as SGD-Nesterov's "
        "(logistic regression) or faster (MLP, CNN), and faster than Adagrad's and RMSprop's",
        "logreg, MLP and CNN on MNIST-1D (5,000 samples), 10 epochs, Nesterov/Adagrad/RMSprop/"
        "Adam at lr 1e-3, 1e-2, 1e-1, 2 seeds",
        adam_vs_sgd,
        "partly: on the CNN Adam is fastest and on logreg all four end alike (tested); on the "
        "MLP this coarse grid need not rank Adam first",
    ),
    Row(
        "bias_correction",
        "`bias_correction`",
        "Kingma & Ba (2015), Sec. 6.4 / Fig. 4: without bias correction, beta2 near 1 makes "
        "training unstable, worst early",
        "MLP on digits, 10 epochs; Adam with/without correction x beta1 {0, 0.9} x beta2 "
        "{0.99, 0.999, 0.9999} x lr {1e-3, 1e-2, 1e-1}",
        bias_correction,
        "yes",
    ),
    Row(
        "amsgrad_counterexample",
        "`amsgrad_counterexample`",
        "Reddi, Kale & Kumar (2018), Sec. 3 and Fig. 1: on f_t(x) = 1010x (t mod 101 = 1) or "
        "-10x on [-1, 1], Adam (beta1 0.9, beta2 0.99) converges to x = +1, AMSGrad to the "
        "optimum -1; the same with 1010x at probability 0.01",
        "`bounded_linear` + `online_linear`, lr 0.5 / sqrt(t), 20,200 steps, both versions",
        amsgrad_counterexample,
        "yes",
    ),
    Row(
        "adamw_vs_l2",
        "`adamw_vs_l2`",
        "Loshchilov & Hutter (2019), Fig. 2: with AdamW the best weight decay hardly depends "
        "on the lr (a separable basin); with Adam + L2 they are coupled",
        "MLP on MNIST-1D, cosine decay, 10 epochs, lr {3e-4 .. 1e-2} x weight decay {1e-4 .. 1} "
        "for Adam (L2) and AdamW",
        adamw_vs_l2,
        "not at this scale: the model underfits in 10 epochs, so decay only hurts; AdamW is far "
        "less sensitive to it (tested), but no basin shows (the full tier trains 50 epochs on "
        "20,000 samples). Our AdamW decays by lr x weight_decay per step, as torch's; the "
        "paper's decay does not scale with the base lr, so its separable basin appears here as "
        "a best weight_decay proportional to 1 / lr",
    ),
    Row(
        "grokking",
        "`grokking`",
        "Power et al. (2022): on a + b mod 97 with 50% training data, validation accuracy "
        "jumps to ~100% long after training accuracy does; weight decay makes it happen much "
        "sooner",
        "2-layer Transformer (width 64), AdamW lr 2e-3, beta2 0.98, weight decay 1 vs 0, 2,000 "
        "steps",
        grokking,
        "yes: with weight decay validation follows training by 20 epochs or more, without it "
        "stays below 70% (tested); the run has loss spikes it recovers from, so its final value "
        "depends on where the last epoch lands",
    ),
    Row(
        "noisy_quadratic",
        "`noisy_quadratic`",
        "DeepOBS (Schneider, Balles & Hennig, 2019) quadratic_deep, with SGD, Momentum and Adam "
        "as the baselines, each learning rate tuned on a log grid",
        "`quadratic` + `gaussian_noise`, batch 128, 100 epochs; Optuna grid sampler over "
        "optimizer x lr {1e-4 .. 1}",
        noisy_quadratic,
        "yes: tuned, all three end within 1% of each other, each at an lr inside the grid (tested)",
    ),
    Row(
        "mnist1d_table",
        "`mnist1d_table`",
        "Greydanus (2020), the MNIST-1D table: test accuracy of logistic regression 32%, MLP "
        "68%, CNN 94%, GRU 91% on the 5,000-sample set, Adam lr 1e-2, batch 100, 6,000 steps "
        "(the paper's code)",
        "the same data (4,000 train, 1,000 test; 400 of the train signals held out for "
        "validation), budget and optimizer; the paper's MLP (2 x 100) and CNN (3 x 25 channels) "
        "sizes; the framework's GRU (128 units, last state) instead of the paper's "
        "bidirectional 6-unit GRU read at every step",
        mnist1d_table,
        "logistic regression and CNN within 3 points, the MLP within 7, the GRU above the MLP "
        "(tested): the CNN uses kernels 5, 5, 5 where the paper has 5, 3, 3 and trains on 3,600 "
        "signals; the paper's MLP has a residual connection around its second layer, this one "
        "does not",
    ),
]

CLAIMS = [
    Row("seed_claims/adam_vs_sgd_speed", "1. Adam converges faster than SGD and generalises well",
        "", "`adam_vs_sgd_speed`: SGD (lr 0.05) vs Adam (lr 1e-3), MLP and CNN on MNIST-1D, 3 "
        "seeds", adam_vs_sgd_speed,
        "depends: yes against plain SGD at these learning rates; in `adam_vs_sgd`, SGD with "
        "Nesterov momentum matches or beats Adam on some models once both are tuned"),
    Row("seed_claims/adagrad_late",
        "2. Adagrad's step decays too fast, so it slows late; RMSprop fixes that", "",
        "`adagrad_late`: both at lr 1e-3, 1e-2, 1e-1, 20 epochs, with optimizer diagnostics",
        adagrad_late,
        "depends: the mechanism is real, the slowdown does not show within 20 epochs once lr is "
        "tuned"),
    Row("seed_claims/beta1_stability",
        "3. beta1 near 1 is more stable, near 0 more flexible", "",
        "`beta1_stability`: Adam beta1 in {0, 0.5, 0.9, 0.99} x lr {1e-3, 1e-2}, 2 seeds, every "
        "step logged", beta1_stability,
        "depends: slightly smoother (under 20%) and slower to move, not more stable in any way "
        "that matters here"),
    Row("seed_claims/beta2_099_vs_0999",
        "4. A smaller beta2 gives history more weight; article 2 recommends 0.99", "",
        "`beta2_099_vs_0999`: beta2 0.99 vs 0.999, lr 1e-3 and 5e-4, MLP and CNN, 3 seeds",
        beta2_099_vs_0999,
        "not supported: a larger beta2 weights history more, and 0.99 is no better than 0.999 "
        "here (within 2 seed standard deviations, tested)"),
    Row("seed_claims/bias_correction_early",
        "7. Without bias correction the first steps are far too small", "",
        "`bias_correction_early`: Adam with/without correction, default betas, 3 seeds, "
        "diagnostics every step", bias_correction_early,
        "not supported: with the default betas the uncorrected first steps are larger, not "
        "smaller, (1 - beta1) / sqrt(1 - beta2) = 3.16 times (and `bias_correction` shows them "
        "blowing up for beta2 near 1)"),
    Row("seed_claims/sparse_noisy", "8. Adam suits sparse or noisy gradients", "",
        "`sparse_noisy`: MLP on one-hot a + b mod 97 (sparse first-layer gradients), batch 16 "
        "(noisy) and 256, 20 epochs, SGD/Momentum/Adagrad/Adam at their config lrs",
        sparse_noisy,
        "supported at the config learning rates: Adam fits where SGD and Momentum stay at "
        "chance (tested); the full tier adds an lr grid for every optimizer"),
]  # fmt: skip


def span(runs: list[Run]) -> str:
    """How many runs, and the minutes from the first one's start to the last one's end."""
    start = min(r["ended_at"] - r["wall_time_s"] for r in runs)
    minutes = (max(r["ended_at"] for r in runs) - start) / 60
    return f"{len(runs)} runs, {minutes:.1f} min"


def row_cells(row: Row, folder: Path) -> list[str]:
    runs = row.runs(folder)
    if not runs:
        raise SystemExit(
            f"error: no runs of {row.folder} in {folder}: run scripts/reproduce.sh "
            f"{row.reproduction} (REPRODUCTIONS_DIR={folder}), or pass --run"
        )
    measured = row.measure(runs)
    setup = f"{row.setup} ({span(runs)})"
    if row.published:
        return [row.label, row.published, setup, measured, row.verdict]
    return [row.label, setup, measured, row.verdict]


def table(rows: list[Row], folder: Path, header: list[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(row_cells(row, folder)) + " |")
    return lines


def run_missing(names: Iterable[str], folder: Path) -> None:
    for reproduction in dict.fromkeys(names):
        if (folder / reproduction).exists():
            continue
        print(f"running scripts/reproduce.sh {reproduction}", flush=True)
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "reproduce.sh"), reproduction],
            check=True, env={**os.environ, "REPRODUCTIONS_DIR": str(folder)},
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("reproductions"))
    parser.add_argument("--run", action="store_true", help="run the missing reproductions")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these reproductions only")
    add_option(parser, "reproductions")
    parser.add_argument("--claims-markdown", nargs="?", type=Path, metavar="PATH",
                        const=MEASURED / "seed_claims.md")  # fmt: skip
    args = parser.parse_args()
    known = {row.reproduction for row in REPRODUCTIONS + CLAIMS}
    if unknown := set(args.only or []) - known:
        raise SystemExit(f"error: unknown reproduction {sorted(unknown)[0]}: choose from "
                         f"{', '.join(sorted(known))}")  # fmt: skip
    reproductions = [r for r in REPRODUCTIONS if not args.only or r.reproduction in args.only]
    claims = [r for r in CLAIMS if not args.only or r.reproduction in args.only]
    if args.run:
        run_missing((r.reproduction for r in reproductions + claims), args.dir)
    header = ["name", "published", "our setup (fast tier)", "measured", "reproduces"]
    lines = table(reproductions, args.dir, header) if reproductions else []
    print("\n".join(lines))
    write(args.markdown, lines)
    if claims:
        claim_lines = table(claims, args.dir, ["claim", "experiment", "measured", "verdict"])
        print("\n" + "\n".join(claim_lines))
        write(args.claims_markdown, claim_lines)


if __name__ == "__main__":
    main()
