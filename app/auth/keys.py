"""The token signing key: long enough to resist guessing, never a value copied from an example file."""

from __future__ import annotations

MIN_KEY_BYTES = 32

# Values that sample configurations (ours and common frameworks') ship; a key equal to one of these is
# public knowledge, whatever its length.
PLACEHOLDERS = frozenset({
    "change-me", "change-me-in-production", "changeme", "change_me", "changeit", "secret", "secret-key",
    "secret_key", "your-secret-key", "your_secret_key", "replace-me", "please-change-me", "landcycle",
    "insecure", "development", "dev", "test", "password", "default", "xxx", "todo",
})


class InsecureKey(ValueError):
    """The configured signing key must not be used: the service refuses to start with it."""


def checked_key(key: bytes, source: str) -> bytes:
    """`key` if it is at least 32 bytes and not a known placeholder, else InsecureKey naming `source`."""
    text = key.decode(errors="replace").strip().lower()
    if text in PLACEHOLDERS or "change-me" in text or "changeme" in text:
        raise InsecureKey(f"{source} is a placeholder from an example configuration; set it to 32+ random "
                          "bytes, e.g. `openssl rand -base64 48`")
    if len(key) < MIN_KEY_BYTES:
        raise InsecureKey(f"{source} has {len(key)} bytes; a signing key needs at least {MIN_KEY_BYTES} "
                          "(e.g. `openssl rand -base64 48`)")
    if len(set(key)) < 8:
        raise InsecureKey(f"{source} repeats too few distinct characters to be a random key")
    return key
