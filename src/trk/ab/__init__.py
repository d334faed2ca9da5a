"""A/B evaluation: statistics, reports and verdicts over serving runs, gates, run comparison."""
