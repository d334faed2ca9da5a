"""The HTTP face of trk-serve: Starlette routes for the scoring protocol, mapped errors."""
