"""Hydra sweeper plugin `hydra/sweeper=optuna`: Optuna >= 5 with pruning, heartbeats and resume.

Hydra imports every module under `hydra_plugins` at start-up, so this package only registers
configs and a thin Sweeper class; the work happens in `research.sweep`, imported on first use.
"""
