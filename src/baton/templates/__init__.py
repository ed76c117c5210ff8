"""What `baton init` writes: a folder per template (basic, code, model), copied as it is."""
