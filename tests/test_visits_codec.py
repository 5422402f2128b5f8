"""The proof format: Base45 (RFC 9285), COSE_Sign1 (RFC 9052) with Ed25519, the claim, and every rejection."""
from __future__ import annotations

import time
import zlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from visits import base45, codec, qr
from visits.claim import Claim, parse_claim
from visits.cose import parse_sign1, sign1
from visits.errors import Rejected
from visits.keys import KeyRing, KeyStore, unb64

PREFIX = "YO1:"


def typical_claim(**changes) -> Claim:
    values = dict(official_id="kim-minsu", name="김민수 주무관", organization="경상남도", issued_at=int(time.time()),
                  lat=35.2279, lon=128.6817, accuracy_m=12, ledger_index=1234, trip_id=3,
                  destination=(35.2271, 128.681), radius_m=300)
    values.update(changes)
    return Claim(**values)


@pytest.fixture
def store(tmp_path) -> KeyStore:
    return KeyStore(tmp_path / "visits")


def issue(store: KeyStore, claim: Claim | None = None) -> str:
    kid, private = store.signer()
    return codec.encode(claim or typical_claim(), kid, private, PREFIX)[0]


def repack(text: str, edit) -> str:
    """Re-encode a proof after `edit(parts) -> parts` on its COSE array (to reach the signature check)."""
    cose = zlib.decompress(base45.decode(text[len(PREFIX):]))
    tag = cbor2.loads(cose)
    parts = edit(list(tag.value))
    return PREFIX + base45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts))))


@pytest.mark.parametrize("raw, text", [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
                                       (b"ietf!", "QED8WEX0"), (b"", "")])
def test_base45_matches_the_rfc_examples(raw, text):
    """RFC 9285's own examples: catches a private variant of Base45 that DCC-style tools would not read."""
    assert base45.encode(raw) == text
    assert base45.decode(text) == raw


@pytest.mark.parametrize("bad", ["GGW", "A", "ZZZ", "abc"])
def test_base45_refuses_what_no_encoder_makes(bad):
    """Catches a decoder that wraps overflowing triples or accepts lower case (two texts for one proof)."""
    with pytest.raises(ValueError):
        base45.decode(bad)


def test_a_proof_round_trips_and_verifies(store):
    """Catches a lossy claim encoding (coordinates, names, the nonce) between issuer and verifier."""
    text = issue(store)
    assert text.startswith(PREFIX) and set(text[len(PREFIX):]) <= set(base45.ALPHABET)
    verified = codec.verify(text, store.keyring(), PREFIX)
    assert verified.claim.official_id == "kim-minsu" and verified.claim.name == "김민수 주무관"
    assert (verified.claim.lat, verified.claim.lon) == (35.2279, 128.6817)
    assert verified.claim.ledger_index == 1234 and len(verified.claim.nonce) == 8
    assert 80 < verified.claim.distance_m < 130 and verified.claim.within_radius


def test_an_independent_cose_implementation_verifies_our_bytes(store):
    """pycose (its own COSE and Sig_structure code) accepts the envelope: catches a private dialect of COSE."""
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519
    from pycose.messages import Sign1Message

    text = issue(store)
    tagged = cbor2.loads(codec.unpack(text, PREFIX))
    assert tagged.tag == Sign1Message.cbor_tag == 18
    # pycose 1.1's decode() expects cbor2 < 6 (a list inside the tag; cbor2 6 gives a tuple): hand it the list.
    message = Sign1Message.from_cose_obj([tagged.value[0], dict(tagged.value[1]), *tagged.value[2:]], True)
    key = next(iter(store.keyring().keys.values()))
    message.key = OKPKey(crv=Ed25519, x=unb64(key.public_key))
    assert message.verify_signature()
    assert cbor2.loads(message.payload)[2] == "kim-minsu"  # sub, a registered CWT claim
    message.key = OKPKey(crv=Ed25519, x=Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    assert not message.verify_signature()


def test_changing_one_byte_of_the_claim_is_rejected(store):
    """Catches a verifier that checks the signature over something other than the payload bytes."""
    text = issue(store)

    def flip(parts):
        payload = bytearray(parts[2])
        at = payload.index("김".encode())
        payload[at + 2] ^= 0x01  # 김 -> another syllable: still valid UTF-8 and CBOR
        parts[2] = bytes(payload)
        return parts

    tampered = repack(text, flip)
    assert parse_claim(parse_sign1(codec.unpack(tampered, PREFIX)).payload).name != "김민수 주무관"
    with pytest.raises(Rejected) as caught:
        codec.verify(tampered, store.keyring(), PREFIX)
    assert caught.value.code == "bad_signature" and "서명이 맞지 않습니다" in caught.value.reason


def test_changing_one_character_of_the_text_is_rejected(store):
    """Catches damage to the QR text (at the start, middle and end) that slips through as a valid proof."""
    text = issue(store)
    for i in (len(PREFIX) + 5, len(text) // 2, len(text) - 1):
        changed = text[:i] + ("0" if text[i] != "0" else "1") + text[i + 1:]
        with pytest.raises(Rejected) as caught:
            codec.verify(changed, store.keyring(), PREFIX)
        assert caught.value.reason  # Korean reason for every kind of damage


def test_a_proof_signed_with_another_key_under_our_key_id_is_rejected(store):
    """Catches a verifier that trusts the kid in the header instead of checking the signature under that key."""
    kid, _ = store.signer()
    forged = codec.encode(typical_claim(), kid, Ed25519PrivateKey.generate(), PREFIX)[0]
    with pytest.raises(Rejected) as caught:
        codec.verify(forged, store.keyring(), PREFIX)
    assert caught.value.code == "bad_signature"


def test_a_proof_signed_with_an_unknown_key_is_rejected(store, tmp_path):
    """Catches a verifier that accepts any well-formed signature when the key id is not one of ours."""
    other = KeyStore(tmp_path / "elsewhere")
    with pytest.raises(Rejected) as caught:
        codec.verify(issue(other), store.keyring(), PREFIX)
    assert caught.value.code == "unknown_key" and "알 수 없는 키" in caught.value.reason


def test_rotation_keeps_old_proofs_valid_and_refuses_the_old_key_afterwards(store):
    """A rotated-out key verifies what it signed before rotation, never a proof dated after it."""
    store.rotate(now=int(time.time()) - 120)  # the first key, made two minutes ago
    old_kid, old_private = store.signer()
    before = codec.encode(typical_claim(issued_at=int(time.time()) - 60), old_kid, old_private, PREFIX)[0]
    store.rotate(now=int(time.time()) - 30)
    after = codec.encode(typical_claim(issued_at=int(time.time())), old_kid, old_private, PREFIX)[0]
    ring = store.keyring()
    assert codec.verify(before, ring, PREFIX).key.status == "교체됨"
    with pytest.raises(Rejected) as caught:
        codec.verify(after, ring, PREFIX)
    assert caught.value.code == "retired_key" and "교체" in caught.value.reason
    assert not (store.private_dir / f"{old_kid.hex()}.key").exists(), "a retired private key must be destroyed"
    new_kid, _ = store.signer()
    assert new_kid != old_kid
    assert codec.verify(issue(store), ring, PREFIX).key.kid == new_kid.hex()


def test_a_revoked_key_verifies_nothing(store):
    """Catches a revocation that only stops signing: a leaked key's proofs must stop verifying."""
    text = issue(store)
    kid, _ = store.signer()
    store.revoke(kid.hex())
    with pytest.raises(Rejected) as caught:
        codec.verify(text, store.keyring(), PREFIX)
    assert caught.value.code == "revoked_key" and "폐기" in caught.value.reason


def test_a_proof_from_the_future_is_rejected(store):
    """Catches a verifier that accepts proofs dated ahead (a key thief pre-dating visits)."""
    text = issue(store, typical_claim(issued_at=int(time.time()) + 3600))
    with pytest.raises(Rejected) as caught:
        codec.verify(text, store.keyring(), PREFIX)
    assert caught.value.code == "future"


@pytest.mark.parametrize("text, code", [("HC1:6BFOXN", "prefix"), ("YO1:abc", "base45"), ("YO1:" + "0" * 30, "zlib"),
                                        ("YO1:" + "A" * 5000, "too_long")])
def test_what_is_not_a_proof_is_named(store, text, code):
    """Catches a crash or a vague answer for foreign QR codes, bad Base45, bad zlib and oversized input."""
    with pytest.raises(Rejected) as caught:
        codec.verify(text, store.keyring(), PREFIX)
    assert caught.value.code == code


def test_a_zlib_bomb_is_not_inflated(store):
    """Catches an unbounded decompress: 10 MB of zeros packed into a small QR text."""
    bomb = PREFIX + base45.encode(zlib.compress(b"\0" * 10_000_000, 9))
    assert len(bomb) < 30_000
    with pytest.raises(Rejected) as caught:
        codec.unpack(bomb[:3999] if len(bomb) > 4000 else bomb, PREFIX)
    assert caught.value.code in ("zlib", "too_long")


@pytest.mark.parametrize("edit", [
    lambda p: [cbor2.dumps({1: -7, 4: b"abcd"})] + p[1:],  # ES256 instead of EdDSA
    lambda p: p[:1] + [{4: b"abcd"}] + p[2:],  # kid moved out of the signed header
    lambda p: p[:3] + [p[3][:63]],  # short signature
    lambda p: p[:2] + [cbor2.dumps({2: "x", 99: 1})] + p[3:],  # unknown claim
    lambda p: p[:2] + [cbor2.dumps(cbor2.CBORTag(1, 12))] + p[3:],  # a tagged date instead of the claim map
])
def test_envelopes_we_would_never_issue_are_refused(store, edit):
    """Catches a lax reader: other algorithms, an unprotected kid, short signatures, unknown claims, tags."""
    with pytest.raises(Rejected) as caught:
        codec.verify(repack(issue(store), edit), store.keyring(), PREFIX)
    assert caught.value.code in ("format", "bad_signature")


def test_sign1_follows_rfc9052_sig_structure(store):
    """The signature covers ["Signature1", protected, h'', payload], checked with cryptography directly."""
    kid, private = store.signer()
    cose = sign1(b"payload", kid, private.sign)
    tag = cbor2.loads(cose)
    assert tag.tag == 18
    protected, unprotected, payload, signature = tag.value
    assert cbor2.loads(protected) == {1: -8, 4: kid} and unprotected == {}
    private.public_key().verify(signature, cbor2.dumps(["Signature1", protected, b"", payload]))


def test_a_typical_claim_fits_a_version_10_qr_at_level_m(store):
    """The issue's size bound, with a trip, a name with rank and a province (bench/bench_visit_qr.py has more)."""
    code = qr.make(issue(store), boost=False)
    assert code.version <= 10 and code.error == "M" and code.mode == "alphanumeric"


def test_keyring_documents_are_validated(store):
    """Catches a keys.json with a malformed public key being loaded as if valid."""
    issue(store)
    data = store.keyring().to_json()
    assert KeyRing.from_json(data).keys.keys() == store.keyring().keys.keys()
    data["keys"][0]["public_key"] = "AAAA"
    with pytest.raises(ValueError):
        KeyRing.from_json(data)
