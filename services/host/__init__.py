"""The host gateway: an OpenAI-compatible server for one licensed M.oml that obtains σ(q) from the
permission service before every generation, keeps a ledger of its σ, and refutes false claims."""
