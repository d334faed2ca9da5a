"""trk: model tracking, registry and champion/challenger serving."""
