"""One package per provider (`<name>/`), beside the pieces they share (base.py, client.py, toolspec.py).

The list of providers is `platform_server.integrations.registry`, outside this package: every provider package
imports the shared modules here, so a registry in this `__init__` would run (and import them all) before any
of those modules could load.
"""
