"""Defender XDR incidents and alerts synced from each customer tenant."""
