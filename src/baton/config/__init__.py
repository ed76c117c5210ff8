"""Configuration: what users write and how it is read. Playbooks (their sections, loading
with file/line/field errors, the resolved Playbook), work items, source positions, prompt
templates, the plugin bases with the Protocols, and the registry of kinds (entry points).

Imports the core, the error tree and system/ (a playbook's repository is checked when it
loads); never the runtime, a store or a plugin kind.
"""
