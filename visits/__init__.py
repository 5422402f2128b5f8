"""요있다: one-touch, signed, offline-verifiable proofs of a business-trip visit.

A proof is a CBOR claim in a COSE_Sign1 envelope (Ed25519), zlib-compressed, Base45-encoded with a short
prefix (the EU Digital COVID Certificate's layout), shown as a QR code; every proof is appended to a
hash-chained ledger with signed checkpoints. See docs/VISITS.md.
"""
