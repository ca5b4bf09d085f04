"""Three real `oml verifier run` processes: a prover hands a transcript to one, it gathers the
quorum from the other two over HTTP and opens the claim; killed and restarted on its database, it
executes the claim after the window, and opens nothing twice."""
from __future__ import annotations

import time

import httpx
from verifier_helpers import signed, transcript_body

from oml_core.chain.anvil import advance_time, free_port
from services.common.process import ServiceProcess
from services.stack import LOCAL_TERMS, address_of


def verifier_process(stack, index: int, url: str, peers: list[str], workdir) -> ServiceProcess:
    env = {"OML_VERIFIER_KEY": stack.chain.accounts.verifiers[index],
           "OML_VERIFIER_DATABASE_URL": f"sqlite:///{workdir}/verifier{index}.db",
           "OML_VERIFIER_POLL_INTERVAL_S": "0.2", "OML_VERIFIER_RETRY_MAX_S": "0.5"}
    args = ["verifier", "run", "--deployment", str(stack.chain.deployment_path),
            "--permission-url", stack.permission_url, "--prover", address_of(stack.prover_key),
            "--port", url.rsplit(":", 1)[1], "--log-level", "warning"]
    for peer in peers:
        args += ["--peer", peer]
    # cwd outside the repository: a stale oml.egg-info there would hide the verifier entry point
    return ServiceProcess(f"verifier{index}", args, url + "/healthz", workdir / f"verifier{index}.log", env,
                          cwd=workdir)


def wait_for(get_status, wanted: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = get_status()
        if status["status"] == wanted:
            return status
        assert time.monotonic() < deadline, f"still {status} after {timeout} s"
        time.sleep(0.2)


def test_verifier_processes_open_a_claim_and_a_restarted_lead_executes_it(stack, tmp_path):
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(3)]
    processes = [verifier_process(stack, i, urls[i], urls[:i] + urls[i + 1:], tmp_path) for i in range(3)]
    try:
        for process in processes:
            process.start(wait=False)
        for process in processes:
            process.wait_healthy(120)
        oml = stack.chain.oml
        transcript = stack.transcript(stack.fresh_fingerprint(stack.slashable))
        body = transcript_body(transcript)
        lead = httpx.Client(base_url=urls[0], timeout=30)
        accepted = lead.post("/v1/transcripts", content=body,
                             headers=signed(stack.prover_key, "POST", "/v1/transcripts", body))
        assert accepted.status_code == 202, accepted.text
        path = f"/v1/transcripts/{accepted.json()['transcript_id']}"

        def status() -> dict:
            return lead.get(path, headers=signed(stack.prover_key, "GET", path)).json()

        opened = wait_for(status, "opened")
        claim_id = opened["claim"]["claim_id"]
        count = oml.claims.functions.claimCount().call()
        assert oml.claim_status(claim_id) == "Open" and len(oml.opened_claim(claim_id).attesters) == 3

        processes[0].kill()
        advance_time(stack.chain.w3, LOCAL_TERMS.challenge_window + 1)
        processes[0] = verifier_process(stack, 0, urls[0], urls[1:], tmp_path).start()

        executed = wait_for(status, "executed")
        assert executed["claim"]["claim_id"] == claim_id
        assert oml.claim_status(claim_id) == "Executed"
        assert oml.claims.functions.claimCount().call() == count
        claims = lead.get("/v1/claims").json()["claims"]
        assert [(c["claim_id"], c["status"]) for c in claims] == [(claim_id, "executed")]
        assert claims[0]["tx_hash"] == "0x" + bytes(oml.opened_claim(claim_id).tx_hash).hex()
        metrics = lead.get("/metrics").text
        assert 'oml_verifier_claims{status="executed"} 1' in metrics
    finally:
        for process in processes:
            process.stop()
