"""The name Hydra's Optuna sweeper plugin gives its sweeper class, for this project's sweeper."""

from __future__ import annotations

from hydra_plugins.research_optuna_sweeper.optuna_sweeper import OptunaSweeper as _ResearchSweeper


class OptunaSweeper(_ResearchSweeper):
    """This project's sweeper under the plugin's class name: the options are the same."""
