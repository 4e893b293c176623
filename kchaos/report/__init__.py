"""Reports: report.md, summary.json and SVG plots in ``reports/<UTC>-<id>/``, plus an index."""

from kchaos.report.writer import summary, write_report

__all__ = ["summary", "write_report"]
