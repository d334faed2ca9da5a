"""`trk server --app-name basic-auth`: MLflow's basic-auth app (users, per-experiment and
per-registered-model permissions, an admin) on trk's own store, plus per-user tokens and
protected aliases that move only on a second person's approval."""
