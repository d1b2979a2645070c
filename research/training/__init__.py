"""One training run: compose the objects, fit and test them, write the run's record.

pipeline: the run from a config to results.json; module: the LightningModule; chunked_steps:
several optimizer steps per Lightning batch; metric_sums: epoch and window means; signals:
SIGTERM/SIGINT as exceptions; ddp_relaunch: DDP ranks inside one Hydra job; schedulers: LR
schedules; callbacks/: what runs beside the loop (progress bar, optimizer diagnostics);
before_start: the Hydra callback that refuses a bad value before a run or multirun creates
anything; built_checks: the values only built objects can check, for a sweep's pre-flight.
"""
