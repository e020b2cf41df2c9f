"""Loading codemix's YAML configs (the build's mixture spec, the trainer's config)."""
