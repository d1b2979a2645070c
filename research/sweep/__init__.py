"""Optuna hyperparameter search as a Hydra sweeper (`hydra/sweeper=optuna`).

space: search-space syntax; factories: samplers and pruners; storage: RDB, heartbeats, lock;
counts: what counts toward n_trials; sweeper: the ask/tell loop; outcome: a run's verdict;
devices: GPUs for parallel trials; reporting: the per-epoch report/prune callback inside a
run; summary, wandb_summary: what a sweep leaves at the end.
"""
