"""The sweeper's own cost as workers grow: W worker processes (1, 2, 4, 8) share one study on a
PostgreSQL server, each running the project's sweeper (`hydra/sweeper=optuna`, in-process
launcher) on a trivial objective that sleeps `--trial-seconds`. Reports trials per second, the
time from a trial's end to the same worker's next trial start (the sweeper's per-trial cost:
lock, count, ask, tell, Hydra's job set-up), and duplicated or lost trials (must be 0).

    scripts/services.sh start postgres && eval "$(scripts/services.sh env postgres)"
    export PGPASSWORD=$RESEARCH_PG_PASSWORD
    python scripts/bench_sweep_workers.py --storage "$RESEARCH_PG_URL"
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from measured import add_option, write  # scripts/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
WORKER_ENV = "BENCH_SWEEP_WORKER"


def worker_main() -> None:
    """One worker: a Hydra app whose task sleeps and records when it ran."""
    import hydra
    from hydra.core.config_store import ConfigStore
    from omegaconf import DictConfig

    ConfigStore.instance().store(
        name="bench",
        node={
            "optimized_metric": "objective",
            "trial": None,
            "x": 0.0,
            "trial_seconds": 0.5,
            "record": "trials.jsonl",
        },
    )

    @hydra.main(version_base="1.3", config_path=None, config_name="bench")
    def task(cfg: DictConfig) -> float:
        start = time.time()
        time.sleep(cfg.trial_seconds)
        record = {
            "pid": os.getpid(),
            "number": cfg.trial.number,
            "start": start,
            "end": time.time(),
        }
        with open(cfg.record, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        return (cfg.x - 0.3) ** 2

    task()


def run_workers(storage: str, workers: int, per_worker: int, trial_s: float, root: Path) -> dict:
    study = f"bench-w{workers}-{int(time.time())}"
    record = root / f"{study}.jsonl"
    command = [sys.executable, __file__, "-m", "hydra/sweeper=optuna",
               "hydra/sweeper/sampler=random",
               f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={study}",
               "hydra.sweeper.direction=minimize", f"hydra.sweeper.n_trials={workers * per_worker}",
               "x=interval(-1,1)", f"trial_seconds={trial_s}", f"record={record}",
               "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"]  # fmt: skip
    env = {**os.environ, WORKER_ENV: "1", "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    for process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err[-2000:]}")
    return summarize(storage, study, record, workers * per_worker, trial_s)


def summarize(storage: str, study_name: str, record: Path, n_trials: int, trial_s: float) -> dict:
    import optuna
    from optuna.trial import TrialState

    runs = [json.loads(line) for line in record.read_text().splitlines()]
    executed = Counter(run["number"] for run in runs)
    study = optuna.load_study(study_name=study_name, storage=storage)
    complete = {t.number for t in study.trials if t.state == TrialState.COMPLETE}
    gaps = []
    for pid in {run["pid"] for run in runs}:
        mine = sorted((r for r in runs if r["pid"] == pid), key=lambda r: r["start"])
        gaps += [b["start"] - a["end"] for a, b in itertools.pairwise(mine)]
    span = max(r["end"] for r in runs) - min(r["start"] for r in runs)
    return {
        "trials": len(runs),
        "trials_per_s": round(len(runs) / span, 2),
        "gap_median_s": round(statistics.median(gaps), 3) if gaps else None,
        "gap_p90_s": round(statistics.quantiles(gaps, n=10)[-1], 3) if len(gaps) > 1 else None,
        "duplicated": sum(count - 1 for count in executed.values()),
        "lost": len(complete ^ set(executed)) + abs(len(study.trials) - n_trials),
        "trial_s": trial_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True, help="postgresql://user@host:port/db")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--trials-per-worker", type=int, default=10)
    parser.add_argument("--trial-seconds", type=float, default=0.5)
    add_option(parser, "bench_sweep_workers")
    args = parser.parse_args()
    lines = [
        "| workers | trials | trials/s | ideal trials/s | end -> next start, median (p90) "
        "| duplicated | lost |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines))
    with tempfile.TemporaryDirectory() as folder:
        for workers in args.workers:
            result = run_workers(args.storage, workers, args.trials_per_worker,
                                 args.trial_seconds, Path(folder))  # fmt: skip
            ideal = workers / args.trial_seconds
            lines.append(
                f"| {workers} | {result['trials']} | {result['trials_per_s']} | {ideal:.1f} | "
                f"{result['gap_median_s']} s ({result['gap_p90_s']} s) | "
                f"{result['duplicated']} | {result['lost']} |"
            )
            print(lines[-1], flush=True)
    write(args.markdown, lines)


if __name__ == "__main__":
    if os.environ.get(WORKER_ENV):
        worker_main()
    else:
        main()
