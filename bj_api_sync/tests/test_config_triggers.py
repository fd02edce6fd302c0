"""Triggers owned by outbound configurations."""
