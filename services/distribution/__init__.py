"""Model distribution: the owner serves each license's M.oml to that license's host only, while
the license is active; the host downloads it and checks it against the chain's commitment."""
