"""Training as a product: search spaces, tuning (Optuna, Hyperopt), model selection, the promotion
gate and the ``tailor train`` pipeline (prepare -> split -> tune -> choose -> refit -> evaluate ->
gate -> publish), with stage skipping on unchanged fingerprints and scheduled retraining.

Modules load lazily: ``import tailor.training`` costs nothing; Optuna and Hyperopt (the ``train``
extra) are imported only by the code that tunes.

* :mod:`tailor.training.spaces`     declarative search spaces, the default space per model
* :mod:`tailor.training.tuning`     ``optimize``: grid / random / TPE / Hyperopt, pruning, storage,
  worker processes; ``tune_model`` for one recommender on a validation split
* :mod:`tailor.training.selection`  candidates -> best on validation -> refit -> test vs baselines
* :mod:`tailor.training.gate`       the promotion gate (paired tests, sanity checks, latency)
* :mod:`tailor.training.config`     the pipeline's TOML (``tailor train --config``)
* :mod:`tailor.training.stages`     stage records and fingerprints of a run folder
* :mod:`tailor.training.pipeline`   ``train(config, run_dir)``, ``train_every``
* :mod:`tailor.training.report`     the run's report.html (study plots, stages, gate)
"""
