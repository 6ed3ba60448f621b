"""Reports: plots of trials (and, later, research-log tables, run comparison, HTML)."""
