"""The owner's download service: `GET /v1/licenses/{id}/model` streams DIR/license-<id>/ as a tar
to that license's host (a signed request, services/common/signed_requests.py), only while the
license is active on chain."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from oml_core.contracts import OMLContracts
from oml_core.omlize import MANIFEST
from services.common.errors import install_error_handlers
from services.common.signed_requests import RequestVerifier, SignedRequestError
from services.distribution.license_gate import DistributionError, LicenseGate
from services.distribution.publish import license_dir
from services.distribution.tarball import tar_stream


def create_app(models_dir: Path, oml: OMLContracts, max_skew_s: int = 120) -> FastAPI:
    gate = LicenseGate(oml)
    # Any signer passes the signature check; the route then asks the chain whether it is the host.
    verifier = RequestVerifier(allowed=lambda _address: True, max_skew_s=max_skew_s)
    app = FastAPI(title="OML model distribution", version="1",
                  description="Each license's M.oml, for that license's host only.")

    install_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "chain_id": oml.deployment.chain_id}

    @app.get("/v1/licenses/{license_id}/model")
    def download(license_id: Annotated[int, PathParam(ge=0, lt=2**256)], request: Request) -> StreamingResponse:
        """The license's M.oml as a tar (application/x-tar), to its host while it is active."""
        try:
            caller = verifier.verify("GET", request.url.path, b"", request.headers)
        except SignedRequestError as exc:
            code = "not_allowed" if exc.status == 403 else "bad_signature"
            raise DistributionError(exc.status, code, str(exc)) from None
        record = gate.check(license_id, caller)
        directory = license_dir(models_dir, license_id)
        if not (directory / MANIFEST).is_file():
            raise DistributionError(404, "model_not_found", f"no M.oml has been prepared for license {license_id}")
        headers = {"Content-Disposition": f'attachment; filename="license-{license_id}.tar"',
                   "X-OML-Weights-Hash": "0x" + bytes(record["weightsHash"]).hex()}
        return StreamingResponse(tar_stream(directory), media_type="application/x-tar", headers=headers)

    return app
