"""The toolbox's Hydra plugin: the hyperparameter-search sweeper (Hydra finds plugins in this namespace)."""
