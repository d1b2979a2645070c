"""Does pruning pay? One TPE search on MNIST-1D run twice: with the median pruner and without.

    python scripts/bench_pruning.py                       # adam_betas_lr, 24 trials each
    python scripts/bench_pruning.py --trials 12 --out /tmp/bench
    python scripts/bench_pruning.py --search sgd_lr_momentum -o trainer.max_epochs=20
    python scripts/bench_pruning.py --markdown            # + scripts/docs/measured/bench_pruning.md

Each search is `python -m research.train -m hparams_search=<search>` in the output folder
(its own SQLite storage), the two identical (same sampler seed, so the same start-up points)
except for `hydra/sweeper/pruner=none`. Compared: training epochs spent (epochs each trial
reported to Optuna, summed), best validation accuracy, and wall time (which follows the
machine's load more than the search on a shared machine). Targets: the pruned search spends at
most half the epochs and its best accuracy is within one point. A benchmark, not a test: a few
minutes on a quiet 2-core machine, much longer on a busy one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
from measured import add_option, write  # scripts/ is on sys.path when run as a script
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]


def run_search(out: Path, search: str, study: str, trials: int, extra: list[str]) -> float:
    """One sweep, as a user runs it; returns its wall time in seconds."""
    command = [
        sys.executable, "-m", "research.train", "-m", f"hparams_search={search}",
        f"hydra.sweeper.study_name={study}", f"hydra.sweeper.n_trials={trials}",
        "logger=none", *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    with open(out / f"{study}.log", "w") as log:
        subprocess.run(command, cwd=out, stdout=log, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - started


def epochs_trained(trial: optuna.trial.FrozenTrial) -> int:
    """From the run's results.json (a diverged run stops mid-epoch), else its reports."""
    results = Path(trial.user_attrs.get("output_dir", "")) / "results.json"
    if results.is_file():
        return int(json.loads(results.read_text())["epochs"])
    return len(trial.intermediate_values)


def measure(out: Path, study_name: str, wall_s: float) -> dict[str, Any]:
    study = optuna.load_study(study_name=study_name, storage=f"sqlite:///{out}/optuna/studies.db")
    trials = study.get_trials(deepcopy=False)
    return {
        "study": study_name,
        "trials": len(trials),
        "complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "epochs": sum(epochs_trained(t) for t in trials),
        "best_val_acc": study.best_value,
        "best_params": study.best_trial.user_attrs.get("applied_params", study.best_params),
        "wall_s": round(wall_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--search", default="adam_betas_lr", help="a conf/hparams_search config")
    parser.add_argument("--trials", type=int, default=24)
    default_out = REPO / "multirun" / time.strftime("bench_pruning-%Y%m%d-%H%M%S")
    parser.add_argument("--out", type=Path, default=default_out, help="a new folder")
    parser.add_argument("-o", "--override", action="append", default=[], help="KEY=VALUE")
    add_option(parser, "bench_pruning")
    args = parser.parse_args()
    out = args.out.resolve()
    if (out / "optuna").exists():
        parser.error(f"{out} holds an earlier run: pass another --out")
    out.mkdir(parents=True)
    rows = []
    for label, extra in (("pruned", []), ("unpruned", ["hydra/sweeper/pruner=none"])):
        study = f"{args.search}-{label}"
        print(f"{study}: {args.trials} trials ...", flush=True)
        wall_s = run_search(out, args.search, study, args.trials, [*extra, *args.override])
        rows.append(measure(out, study, wall_s))
    pruned, unpruned = rows
    verdict = {
        "epoch_ratio": round(pruned["epochs"] / unpruned["epochs"], 3),
        "accuracy_gap_points": round(100 * (unpruned["best_val_acc"] - pruned["best_val_acc"]), 2),
    }
    verdict["meets_targets"] = (
        verdict["epoch_ratio"] <= 0.5 and verdict["accuracy_gap_points"] <= 1.0
    )
    (out / "bench_pruning.json").write_text(json.dumps({"rows": rows, **verdict}, indent=2))
    lines = [
        "| search | trials | complete | pruned | failed | epochs | best val/acc | wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row[k] for k in ("study", "trials", "complete", "pruned", "failed", "epochs")]
        lines.append(
            "| " + " | ".join(map(str, cells)) + f" | {row['best_val_acc']:.4f} | {row['wall_s']} |"
        )
    lines += [
        "",
        f"Epochs pruned / unpruned: **{verdict['epoch_ratio']:.2f}x**; the pruned search's best "
        f"validation accuracy is {verdict['accuracy_gap_points']} points lower (targets: at most "
        f"0.5x the epochs, at most 1 point; met: {'yes' if verdict['meets_targets'] else 'no'}).",
    ]
    print("\n".join(lines))
    write(args.markdown, lines)


if __name__ == "__main__":
    main()
