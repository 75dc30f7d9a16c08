"""The RFC 7636 PKCE vector from shared/vectors passes through our authorize-URL builder."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.control_support import hubspot_oauth
from tests.shared_vectors import vectors

PKCE = vectors(scheme="PKCE S256")


def test_the_shared_file_has_the_pkce_vector():
    assert PKCE, "no PKCE S256 vector in shared/vectors/signatures.json"


@pytest.mark.parametrize("vector", PKCE, ids=lambda v: v["source"])
def test_authorization_url_carries_the_s256_challenge_of_the_verifier(vector):
    oauth = hubspot_oauth("client", "secret", "https://api.example", "https://app.example")

    url = oauth.authorization_url(
        "https://me.example/cb", ["crm.objects.contacts.read"], "state-1", vector["code_verifier"]
    )

    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge"] == [vector["expected_code_challenge"]]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == ["state-1"]
