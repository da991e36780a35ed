"""check_revocation: a revoked certificate is refused; an unreachable responder does not stop B-B signing."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.core.errors import CertificateUnusable
from chalicelib.keys import certificates, revocation

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class _Checker:
    def __init__(self, outcome):
        self.outcome = outcome

    def check(self, cert, issuer):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _answer(status, revoked_at=None):
    return revocation.RevocationAnswer(status=status, source="ocsp", der=b"", serial=1, checked_at=NOW,
                                       revoked_at=revoked_at, reason="key_compromise" if revoked_at else None)


@pytest.fixture
def use(monkeypatch):
    def install(outcome):
        monkeypatch.setattr(revocation, "default_checker", lambda ttl: _Checker(outcome))
    return install


def test_revoked_certificate_is_refused_with_its_code(use):
    use(_answer(revocation.REVOKED, NOW - dt.timedelta(days=1)))
    with pytest.raises(CertificateUnusable) as info:
        certificates.check_revocation(object(), [object()], at=NOW)
    assert info.value.code == "certificate_revoked" and info.value.details["source"] == "ocsp"


def test_good_certificate_passes(use):
    use(_answer(revocation.GOOD))
    certificates.check_revocation(object(), [object()], at=NOW)


@pytest.mark.parametrize("failure", [revocation.NoRevocationPointers("none"),
                                     revocation.RevocationUnavailable("down")])
def test_no_answer_soft_fails(use, failure):
    use(failure)
    certificates.check_revocation(object(), [object()], at=NOW)


def test_without_an_issuer_nothing_is_asked(use):
    use(AssertionError("must not be called"))
    certificates.check_revocation(object(), [], at=NOW)
