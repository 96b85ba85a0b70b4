"""Learning: profiles, datasets, architectures, losses, the run folder, training and prediction.

``profiles`` (named training settings) -> ``dataset`` (splits and tf.data pipelines) ->
``models`` (architectures) -> ``evaluation`` (metrics) -> ``training`` (the run folder,
``fit`` and ``predict``) -> ``votes`` (the vote-count targets and loss); ``baselines`` is
the pixel baseline the CNNs are measured against.
"""
