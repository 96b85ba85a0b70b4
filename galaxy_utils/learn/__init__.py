"""Learning: profiles, datasets, architectures, metrics, the run folder, training and prediction.

``profiles`` (named training settings) -> ``dataset`` (splits and tf.data pipelines) ->
``models`` (architectures), ``evaluation`` (metrics), ``baselines`` (the pixel baseline the
CNNs are measured against) -> ``runs`` (the :class:`~galaxy_utils.learn.runs.RunFolder`
that owns every file of a run, the fit loop, the strategy, the one prediction path) ->
``votes`` (vote-count targets, the Dirichlet-multinomial loss and its scores) ->
``training`` (:func:`~galaxy_utils.learn.training.train`, one entry point for hard labels
and vote counts, and :func:`~galaxy_utils.learn.training.predict`).
"""
