"""The AWS face of manifestdb: the JSON 1.1 protocol, request signing and the HTTP app."""
