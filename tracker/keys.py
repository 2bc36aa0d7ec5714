"""Secret keys for partners and devices: random, shown once, stored as SHA-256.

The secrets carry 256 bits of randomness, so a fast hash is safe (no
dictionary to attack) and keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate_key(kind: str) -> tuple[str, str, str]:
    """Return (full_key, prefix, hashed): ``<kind>_<prefix>_<secret>``."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full = f"{kind}_{prefix}_{secret}"
    return full, prefix, hash_key(full)


def hash_key(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def split_key(full_key: str) -> tuple[str, str] | None:
    """(kind, prefix) of a well-formed key, else None."""
    parts = full_key.split("_", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1]


def key_matches(full_key: str, hashed: str) -> bool:
    return hmac.compare_digest(hash_key(full_key), hashed)
