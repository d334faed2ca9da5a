"""Registry webhooks in MLflow 3's format: events, signed deliveries, target safety.

`events` names what happened and builds MLflow's payloads; `signing` holds the header
contract; `targets` decides which URLs may be called; `sender` makes one signed POST;
`dispatcher` delivers in the background. Persistence lives in `trk.store.webhooks`.
"""
