"""Images: decode and cache them (``decode``), rotate, flip and balance them (``augmentation``).

Sits on the data layer; TensorFlow is imported only inside the functions that build
TensorFlow operations.
"""
