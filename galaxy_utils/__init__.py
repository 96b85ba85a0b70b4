"""galaxy-cnn's shared code: every notebook and command calls into these modules.

The data flows catalogue -> labels -> images -> augmentation -> dataset -> models ->
training -> evaluation -> plots; each module is one of those stages. The currency between
them is a catalogue DataFrame with a ``file_loc`` column and label columns.
"""

import os

# TensorFlow's C++ start-up logging would land in notebook stderr (and break nbval);
# every module that imports TensorFlow is imported after this line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
