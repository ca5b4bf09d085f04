"""Refusals: an HTTP status and a stable code, answered as {"error": code, "detail": text}."""
from __future__ import annotations


class Refused(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail

    def as_json(self) -> dict:
        return {"error": self.code, "detail": self.detail}
