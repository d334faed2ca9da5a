"""What the layers agree on: record types and the Protocols of every store surface.

`store` is the tracking and registry surface (`Store`), `surfaces` the sub-stores it carries
(prediction log, rollouts, webhooks, logged models); `predictions`, `rollouts`, `run_inputs`
and `webhooks` are the records they read and write; `rollout_plan` and `rollout_machine` are
the plan and the transitions a rollout's store and its controller both check. Serving, A/B and the server depend on
these, never on `trk.store`'s implementations. `api` is the REST route table: one row per
route, bound to its handler by the server and sent through by the REST client.
"""
