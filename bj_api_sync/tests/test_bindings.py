"""Bindings, URL placeholders, answers written back, scripts, envelope, only_changed."""
