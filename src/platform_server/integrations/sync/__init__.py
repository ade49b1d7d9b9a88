"""The sync engine: provider importers and exporters, page-by-page commits, cursors (issue 4)."""
