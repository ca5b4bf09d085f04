"""The verifier service: checks prover transcripts, gathers a quorum of peer attestations for
fingerprint answers served without σ, opens UNPERMITTED_USE claims and executes the slash after
the challenge window. `oml verifier run` serves it (services/verifier/cli.py)."""
