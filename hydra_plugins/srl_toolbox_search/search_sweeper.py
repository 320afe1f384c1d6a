"""Hydra's Optuna sweeper, ending a search in which no trial completed with its summary instead of a traceback.

hydra-optuna-sweeper 1.3.0 asks the study for its best trial after the last batch, which raises ``ValueError: No
trials are completed yet`` when every trial failed: no summary, no ``optimization_results.yaml``. This subclass
writes both (each trial's status, error and log) and exits with status 1. ``conf/hydra/sweeper/search.yaml`` selects
it for every ``hparams_search=<algo>``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


class SearchSweeper(OptunaSweeper):
    """:class:`OptunaSweeper` with a clear end for a search whose trials all failed."""

    def sweep(self, arguments: list[str]) -> Any:
        try:
            return super().sweep(arguments)
        except ValueError as error:
            if "No trials are completed" not in str(error):
                raise
        from rlzoo.sweep import OPTUNA_RESULTS_FILE, format_summary, summarize

        sweep_dir = Path(str(self.sweeper.config.hydra.sweep.dir))
        jobs = summarize(sweep_dir)
        OmegaConf.save(OmegaConf.create({"name": "optuna", "trials": len(jobs), "completed_trials": 0,
                                         "best_params": None, "best_value": None}),
                       sweep_dir / OPTUNA_RESULTS_FILE)
        log.error("Search %s: %d trials, none completed (no best parameters):\n%s", sweep_dir, len(jobs),
                  format_summary(jobs))
        raise SystemExit(1)
