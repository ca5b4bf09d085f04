"""Refusals: every expected failure is a `Refused` with an HTTP status and a stable code, turned
into a JSON 4xx by app.py. Anything else reaching the client as a 500 is a bug."""
from __future__ import annotations

from services.common.errors import Refused


def unknown_license(license_id: int) -> Refused:
    return Refused(404, "unknown_license", f"license {license_id} is not known to this service")


def wrong_license(token_license: int | None, license_id: int) -> Refused:
    return Refused(403, "wrong_license",
                   f"the token is scoped to license {token_license}, not license {license_id}")
