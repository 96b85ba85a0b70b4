"""Analysis of finished runs: hard labels against vote counts (``comparison``), what the CNN looks at (``saliency``)."""
