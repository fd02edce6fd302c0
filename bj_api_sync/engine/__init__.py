"""Database-free engine of bj_api_sync.

Nothing in this package imports ``odoo``: mapping, authentication headers, retry
policy, batching, masking, validation, error envelopes and rate-limit arithmetic
live here so that they can be tested in milliseconds. The Odoo models and
controllers of the addon are thin layers on top of it.
"""
