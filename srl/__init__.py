"""State representation learning: record datasets, train encoders, measure them, and encode images for RL.

Modules: ``dataset`` (record a dataset from an env), ``data`` (read one, old layout included), ``models``
(encoders, decoders, prediction heads, PCA), ``losses`` (the loss catalogue, weights and splits), ``train``
(``python -m srl.train``), ``metrics`` (KNN-MSE, GTC, plots), ``encoder`` (the batched ``VecEnvWrapper`` and the
on-demand training cache used by ``python main.py srl_model=<learned model>``), ``config`` (schemas and paths).
"""
