"""pyHanko's aiohttp clients stay out of a signing container until something constructs one
(chalicelib.signing.aiohttp_deferral; issue 11 cold start). In a fresh interpreter: this process has pyHanko loaded."""

from __future__ import annotations

import subprocess
import sys

_CHILD = """
import sys
import chalicelib.signing
from chalicelib.signing import aiohttp_deferral
import pyhanko.sign, pyhanko.sign.signers.pdf_signer, pyhanko.stamp
assert "aiohttp" not in sys.modules, "aiohttp imported with pyhanko.sign"
assert all(aiohttp_deferral.is_deferred(m) for m in aiohttp_deferral.STAND_INS)
from pyhanko.sign.timestamps import HTTPTimeStamper
stamper = HTTPTimeStamper("http://127.0.0.1:9/tsa")
import pyhanko.sign.timestamps as ts, pyhanko.sign.validation.ades as ades
from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper as real
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
assert type(stamper) is real and ts.HTTPTimeStamper is real, "the stand-in did not build the real client"
assert ades.AIOHttpFetcherBackend is AIOHttpFetcherBackend and "aiohttp" in sys.modules
assert not any(aiohttp_deferral.is_deferred(m) for m in aiohttp_deferral.STAND_INS)
print("ok")
"""


def test_pyhanko_sign_loads_without_aiohttp_and_a_constructed_client_is_the_real_one():
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
