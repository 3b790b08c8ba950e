"""The one check on every name and piece of text the access server is handed.

A name (of a holder, key, lock, group or phone, an ID06 card number, who reads the audit
trail) and an audit reason go through check_name() before they are stored and before they
are looked up, so "K1", " K1" and a decomposed "Å" cannot become different rows, and a name
cannot hide a NUL or a direction override (U+202E) that shows in a report as something
else. The rules:

- a string, non-empty, with no white space at its start or end (refused, never stripped: a
  lookup of " K1" says why it finds nothing instead of quietly finding "K1");
- normalised to Unicode NFC, so visually identical composed and decomposed spellings are one
  name (compatibility forms are not folded: a no-break space stays distinct from a space);
- no code point of Unicode category C (Cc control such as NUL, tab or newline; Cf format
  such as the direction controls U+200E/U+200F, U+202A..U+202E, U+2066..U+2069, zero-width
  spaces and joiners, the BOM; Cs lone surrogates, which cannot even be stored as UTF-8; Co
  private use; Cn unassigned, whose normalisation a later Unicode version may change), and
  no line or paragraph separator (Zl, Zp): a name is one visible line;
- at most MAX_NAME_LEN code points after normalisation (MAX_TEXT_LEN for free text such as
  an audit reason): a database row and a report line stay bounded.

The refusal is a ValueError whose one-line message names the field and the problem, as all
of the server's refusals of bad input are.
"""

import unicodedata

MAX_NAME_LEN = 100  # code points: room for any real holder's full name, a bound on a report line
MAX_TEXT_LEN = 500  # code points of free text (an audit reason)
_SHOWN = 40  # characters of a refused value quoted in the message
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def _shown(value):
    """The value as repr() writes it (control characters escaped: the message stays one
    line), cut to a readable length."""
    text = repr(value[:_SHOWN] if isinstance(value, str) else value)
    if isinstance(value, str) and len(value) > _SHOWN:
        text += "..."
    return text if len(text) <= 2 * _SHOWN + 10 else text[: 2 * _SHOWN] + "..."


def check_name(value, what, max_len=MAX_NAME_LEN):
    """`value` in NFC if it is an acceptable `what` (e.g. "key name"), else ValueError."""
    what = f"{'an' if what[:1].lower() in 'aeio' else 'a'} {what}"
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a non-empty string, got {_shown(value)}")
    if len(value) > 4 * max_len:  # NFC composes at most 4 code points into one (U+1F82): too long whatever it gives
        raise ValueError(f"{what} is at most {max_len} characters long, got {len(value)}")
    for i, ch in enumerate(value):  # before NFC, so the index is the caller's
        problem = _REFUSED_CATEGORIES.get(unicodedata.category(ch))
        if problem:
            raise ValueError(f"{what} must not contain {problem} (U+{ord(ch):04X} at index {i}), got {_shown(value)}")
    name = unicodedata.normalize("NFC", value)
    if not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {_shown(value)}")
    if name != name.strip():
        raise ValueError(f"{what} must not start or end with white space, got {_shown(value)}")
    if len(name) > max_len:
        raise ValueError(f"{what} is at most {max_len} characters long, got {len(name)}")
    return name


def check_text(value, what):
    """Free text (an audit reason): check_name()'s rules with the longer MAX_TEXT_LEN."""
    return check_name(value, what, MAX_TEXT_LEN)
