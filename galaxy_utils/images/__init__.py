"""Images: decode them (``decode``), cache them in one memory-mapped array per spec
(``store``), rotate, flip and balance them (``augmentation``).

Sits on the data layer; TensorFlow is imported only inside the functions that build
TensorFlow operations.
"""
