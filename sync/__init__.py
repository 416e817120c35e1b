"""Sync protocol, client and central server."""
