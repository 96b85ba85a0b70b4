"""The data layer: what a catalogue is and what it says, before any image is read.

``tree`` (the GZD-5 decision trees) -> ``catalogue`` (format names, validation, quirks,
image locations) -> ``labels`` (vote fractions -> classes) -> ``formats`` (the other
catalogue layouts) -> ``read`` (one entry point: any catalogue path -> a canonical frame)
-> ``cleaning`` and ``prepare`` (the cleaning steps and the prepared catalogue);
``download`` fetches the real catalogue and images; ``files`` holds the file helpers every
layer shares. Nothing here imports TensorFlow.
"""
