"""Triggers of outbound configurations: the automation rules and schedule a config owns."""
