"""Permission service: signs σ(q) for every query a licensed host serves and keeps the books
(usage per license and epoch, cumulative vouchers, Merkle proofs), DESIGN.md §5."""
