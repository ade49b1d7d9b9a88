"""Pushed syncs: provider webhooks (GitHub, Linear, Jira) that start an incremental import within seconds.

`verify` checks each provider's signature on the raw body, `service` maps a verified event to the affected
workspace integrations and queues their imports, `registration` creates and deletes the webhooks upstream,
`router` serves one endpoint per provider under /api/webhooks/.
"""
