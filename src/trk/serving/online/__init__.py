"""Online evaluation: feedback joins, report windows, serving runs, samples."""
