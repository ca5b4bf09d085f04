"""The prover daemon: poses as a user of licensed hosts, mixes secret fingerprint probes into
ordinary traffic at random times, and hands each probe's transcript to a verifier.

    prover = Prover(ProverSettings(key=..., verifier_urls=[...], passphrase=...))
    prover.load(license_id, fingerprints)             # the license's keys, sealed in SQLite
    result = prover.probe(license_id, Target(license_id, "http://host:8000"))
    prover.run([target, ...], max_queries=100)         # the randomized schedule
"""
