"""Signing uploaded documents with the organisation's key: upload checks, key backends, PAdES signatures."""
