"""Signing uploaded documents with the organisation's key: upload checks, key backends, PAdES signatures.

Importing the package defers pyHanko's aiohttp client (`aiohttp_deferral`, ~100 ms of a signing container's cold
start), before any module here imports `pyhanko.sign`.
"""

from chalicelib.signing import aiohttp_deferral

aiohttp_deferral.install()
