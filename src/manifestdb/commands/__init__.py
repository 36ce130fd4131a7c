"""The CLI's subcommands, one module each; `manifestdb.cli` registers them."""
