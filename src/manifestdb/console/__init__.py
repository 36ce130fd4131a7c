"""The web console: a read-only view of projects, datasets and entries, served by `serve`."""
