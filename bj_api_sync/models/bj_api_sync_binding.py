"""The other side's id of each record synced by an outbound configuration."""
