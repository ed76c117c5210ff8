"""The bundled demo: a playbook, its items, schema and field rules (see `baton demo`)."""
