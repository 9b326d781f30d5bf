"""Whole pictures painted on a real MyPaint canvas: the planner, its exports and the
``neuralpaint paint`` command."""
