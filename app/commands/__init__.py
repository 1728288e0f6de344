"""``codereview`` subcommands, one module each; ``app.cli`` registers them."""
