"""Integrations: OAuth connections to the providers, their tokens, and per-workspace enablement."""
