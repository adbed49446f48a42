"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last a check
character over the first 17 (weights 3^i mod 31 over an alphabet without I, O, Z, S, V). Pure."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def check_character(body: str) -> str:
    """The 18th character for the first 17 (which must use the code's alphabet)."""
    if len(body) != 17 or any(ch not in _VALUE for ch in body):
        raise ValueError("the body of a USCC is 17 characters of 0-9 and A-Y without I, O, S, V, Z")
    total = sum(_VALUE[ch] * w for ch, w in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    """Upper case without surrounding or inner spaces (as people copy it from a licence)."""
    return "".join(code.split()).upper()


def problem(code: str) -> str | None:
    """Why `code` is not a valid USCC, or None when it is."""
    if len(code) != 18:
        return f"a USCC has 18 characters, not {len(code)}"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"a USCC uses 0-9 and A-Y without I, O, S, V, Z; found {''.join(bad)}"
    if not code[2:8].isdigit():
        return "characters 3–8 of a USCC are the 6-digit administrative division code"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, expected {expected}"
    return None
