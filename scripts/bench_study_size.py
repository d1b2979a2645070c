"""Per-trial cost of pruning as the study grows: a trial's report-and-prune calls with 0, 2,000
and 10,000 earlier trials in the study, in CPU seconds (the machine may be loaded).

The study is SQLite, seeded by `study.add_trials` with finished trials (90% complete, 10%
pruned) that reported `--epochs` intermediate values, and the sweeper's median pruner
(`hydra/sweeper/pruner=median`). Each measured trial runs in a fresh process, as a trial of
a joblib or submitit sweep does: it opens the study, records its run folder and reports
`--epochs` values, asking the pruner after each. Two ways, on the same values:

- Optuna's: `trial.should_prune()` on the freshly loaded study (what the reporter did before;
  the median pruner reads every completed trial of the study);
- ours: `research.sweep.pruning.TrialLink`, what the reporter does now: it reads the
  thresholds the sweeper publishes (`research.sweep.thresholds`), published here as the
  sweeper does, after the trials are added and after each round's trials are told.

Both must take the same decisions (checked). Printed: CPU per trial and its ratio to the
0-trial study, for each way, and the sweeper's CPU to publish the thresholds after a round.

    python scripts/bench_study_size.py [--sizes 0 2000 10000] [--trials 3] [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from measured import add_option, write  # scripts/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
CHILD_ENV = "BENCH_STUDY_SIZE_CHILD"
WAYS = ("optuna", "ours")
MEDIAN = {"name": "median", "n_startup_trials": 5, "n_warmup_steps": 1, "interval_steps": 1,
          "n_min_trials": 1}  # fmt: skip  # conf: hydra/sweeper/pruner=median


def seed_trials(study: object, count: int, epochs: int, rng: random.Random) -> None:
    """Finished trials that look like a sweep's: a parameter, a value per epoch."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    trials = []
    for _ in range(count):
        level, complete = rng.random(), rng.random() < 0.9
        curve = {e: level * (1 - 0.5 ** (e + 1)) for e in range(epochs if complete else 2)}
        trials.append(
            create_trial(
                state=TrialState.COMPLETE if complete else TrialState.PRUNED,
                value=curve[max(curve)] if complete else None,
                params={"lr": 10 ** (-4 + 3 * level)},
                distributions={"lr": FloatDistribution(1e-4, 0.1, log=True)},
                intermediate_values=curve,
                user_attrs={"output_dir": f"/runs/trial_{len(trials)}"},
            )
        )
    study.add_trials(trials)  # type: ignore[attr-defined]


def child(way: str, url: str, study_name: str, trial_id: int, values: list[float]) -> None:
    """One trial's reporting, as the run's callback does it; prints its CPU and decisions."""
    import optuna

    from research.sweep.factories import make_pruner
    from research.sweep.pruning import PRUNER_ATTR, TrialLink
    from research.sweep.storage import open_storage

    started = time.process_time()
    decisions = []
    if way == "optuna":
        storage = open_storage(url)
        spec = storage.get_study_user_attrs(storage.get_study_id_from_name(study_name))
        study = optuna.load_study(
            study_name=study_name,
            storage=storage,
            pruner=make_pruner(spec[PRUNER_ATTR]),
            sampler=optuna.samplers.RandomSampler(),
        )
        trial = optuna.trial.Trial(study, trial_id)
        trial.set_user_attr("output_dir", "/runs/now")
        for step, value in enumerate(values):
            trial.report(value, step=step)
            decisions.append(bool(trial.should_prune()))
    else:
        link = TrialLink(url, study_name, trial_id)
        link.trial.set_user_attr("output_dir", "/runs/now")
        decisions = [bool(link.report(value, step)) for step, value in enumerate(values)]
    print(json.dumps({"cpu_s": time.process_time() - started, "decisions": decisions}))


def run_child(way: str, url: str, study_name: str, trial_id: int, values: list[float]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, way, url, study_name, str(trial_id), json.dumps(values)],
        env={**os.environ, CHILD_ENV: "1", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"the {way} trial failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def both_ways(url: str, study: object, values: list[float], publish: Callable) -> dict[str, dict]:
    """A trial each way on the same study: both asked, run, then told."""
    trials = {way: study.ask() for way in WAYS}  # type: ignore[attr-defined]
    results = {
        way: run_child(way, url, trial.study.study_name, trial._trial_id, values)
        for way, trial in trials.items()
    }
    for trial in trials.values():
        study.tell(trial, values[-1])  # type: ignore[attr-defined]
    started = time.process_time()
    publish(study)
    results["publish"] = {"cpu_s": time.process_time() - started}
    return results


def main() -> None:
    import optuna

    from research.sweep.factories import make_pruner
    from research.sweep.pruning import PRUNER_ATTR
    from research.sweep.thresholds import StepThresholds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 2000, 10000])
    parser.add_argument("--trials", type=int, default=3, help="measured trials per size and way")
    parser.add_argument("--epochs", type=int, default=10)
    add_option(parser, "bench_study_size")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/studies.db"
        study = optuna.create_study(
            storage=url, study_name="bench", direction="maximize", pruner=make_pruner(MEDIAN)
        )
        study.set_user_attr(PRUNER_ATTR, MEDIAN)
        publish = StepThresholds(study.pruner).publish
        held = 0
        for size in sorted(args.sizes):
            started = time.process_time()
            seed_trials(study, size - held, args.epochs, rng)
            held = size
            publish(study)
            print(f"{size} trials seeded ({time.process_time() - started:.0f} s CPU)", flush=True)
            cpu: dict[str, list[float]] = {way: [] for way in (*WAYS, "publish")}
            for _ in range(args.trials):
                level = rng.random()
                values = [level * (1 - 0.5 ** (e + 1)) for e in range(args.epochs)]
                results = both_ways(url, study, values, publish)
                if results["optuna"]["decisions"] != results["ours"]["decisions"]:
                    raise SystemExit(f"the decisions differ at {size} trials: {results}")
                for way, result in results.items():
                    cpu[way].append(result["cpu_s"])
            held += 2 * args.trials
            rows.append((size, {way: statistics.median(v) for way, v in cpu.items()}))
    base = rows[0][1]
    lines = [
        f"CPU per trial ({args.epochs} reports, each asking the median pruner), fresh process:",
        "",
        "| earlier trials | Optuna's should_prune | ratio | ours | ratio | sweeper's publish |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, cpu in rows:
        lines.append(f"| {size:,} | {cpu['optuna']:.3f} s | {cpu['optuna'] / base['optuna']:.2f}x "
                     f"| {cpu['ours']:.3f} s | {cpu['ours'] / base['ours']:.2f}x "
                     f"| {1000 * cpu['publish']:.1f} ms |")  # fmt: skip
    print("\n" + "\n".join(lines))
    write(args.markdown, lines)


if __name__ == "__main__":
    if os.environ.get(CHILD_ENV):
        child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5]))
    else:
        main()
