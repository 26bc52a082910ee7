"""Drawing boxes and scene graphs, HTML reports and plots."""
