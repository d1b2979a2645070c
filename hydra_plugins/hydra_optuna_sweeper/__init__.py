"""`hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper`, the class name search
configs written for Hydra's own Optuna sweeper plugin set as `hydra.sweeper._target_`
(lightning-hydra-template's do), names this project's sweeper, so those files run unchanged.
Hydra's plugin itself needs optuna<3 and is not installed with this project."""
