"""galaxy-cnn's shared code: every notebook and command calls into these modules.

The data flows catalogue -> labels -> images -> augmentation -> dataset -> models ->
training -> evaluation -> plots; each module is one of those stages. The currency between
them is a catalogue DataFrame with a ``file_loc`` column and label columns.
"""

__version__ = "0.1.0"
