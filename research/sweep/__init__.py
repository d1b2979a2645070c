"""Optuna hyperparameter search as a Hydra sweeper (`hydra/sweeper=optuna`).

space, legacy_space: search-space syntax; factories: samplers and pruners; storage: URLs,
the study lock, opening a storage; outage: waiting out a database that went away, one line for
one that cannot be used; experiment: a study holds one experiment (its fixed config); liveness:
heartbeats on every storage; counts: what counts toward n_trials; retry: lost trials run again
(or are recorded, when their run finished anyway); stop: the sweep process itself stopped;
sweeper: the ask/tell loop; preflight: the first point's config checked before any trial;
outcome: a run's verdict; submitit_jobs: trials as
SLURM/local jobs, one verdict each; credentials: no storage password in anything written;
devices: GPUs for parallel trials; reporting: the per-epoch report/prune callback inside a run;
pruning: its link to the trial (report, prune), without torch; thresholds: a percentile
pruner's thresholds, published by the sweeper, one row a report;
summary, wandb_summary: what a sweep leaves at the end.
"""
