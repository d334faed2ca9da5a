"""Progressive rollouts: a plan of traffic steps with guards, judged step by step from the
serving runs and the labels, moved by one controller at a time through the store's state."""
