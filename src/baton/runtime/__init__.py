"""The runtime: the engine that claims items and drives them through the loop.

engine (wiring, submitting), claiming (the claim loop), driver (one item: decide ->
perform -> record), rounds (best-of-N), fleet (the kill switch), leases, effects
(performing a step: the plugins' calls), recording (the write path), bus (this process's
events), redact (secrets kept out of the record), gc_threshold.

Imports the core, config, store and system; never a plugin kind (agents, reviewers and
verifiers come through the Protocols) nor the CLI or the API.
"""
