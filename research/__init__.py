"""Optimizer research framework: Hydra configs, Lightning training, Optuna search, W&B reports."""
