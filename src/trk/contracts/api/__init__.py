"""The REST API's route table, declared once for both sides of the wire.

Each route is one `Api` row (method, path under `PREFIX`, request fields, whether a resend is
safe) in the module of its subject (`experiments`, `runs`, `registry`, ...). The server binds
each row to its handler (`trk.server.endpoint.Endpoint`) and builds its Starlette routes from
them; the REST client (`trk.store.rest_call`) sends each call through the same row, checked by
the same validator (`fields`). Nothing here imports a web framework or an HTTP client.
"""
