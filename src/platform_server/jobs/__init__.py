"""The job layer: the one place where work leaves a request (syncs, exports, email, reconciliation, cleanup,
token refresh). Tasks are registered in `registry`; `defer` enqueues in the caller's transaction; procrastinate
workers run them on PostgreSQL, an in-process runner inside `serve` on SQLite."""
