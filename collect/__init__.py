"""rightsize report: load a results/<run_id>/ directory, compute step tables and verdicts, render.

load.py (files -> DataFrames) -> compute.py (pure) -> render.py (markdown, plots); report.py is the CLI.
"""
