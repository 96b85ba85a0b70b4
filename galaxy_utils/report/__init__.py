"""The report: figures (``plots``, ``plots_votes``), the notebooks' helpers and the report
figure registry (``notebook``), and the slides (``slides``)."""
