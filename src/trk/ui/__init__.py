"""The web dashboard `trk server` serves at `/`: experiments, runs, models and A/B results."""
