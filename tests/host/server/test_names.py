# Names are checked and normalised the same way at every entry point and in every lookup:
# no white space around them, no control or format characters, bounded length, one Unicode
# form (NFC). A refused name is a one-line ValueError naming the field, and changes nothing.
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_testkit import START_S, YEAR_S, Clock, dump

from keylock.host.server import MAX_NAME_LEN, MAX_TEXT_LEN, AccessServer, check_name

# The characters the task names: NUL and the Unicode direction controls.
BIDI = [chr(c) for c in (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))]
ZERO_WIDTH_AND_BOM = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


# --- the checker on its own ------------------------------------------------------------


@pytest.mark.parametrize("name", ["K1", "Anna Berg", "Åsa Öberg-Ståhl", "BB-1234-567890", "depot/north #2", "李小龙", "x" * MAX_NAME_LEN])
def test_ordinary_names_are_accepted_unchanged(name):
    assert check_name(name, "key name") == name


@pytest.mark.parametrize(
    "value, problem",
    [
        (" K1", "white space"),
        ("K1 ", "white space"),
        ("\u00a0K1", "white space"),  # a no-break space is white space too
        ("K1\u3000", "white space"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("K\x001", "control character (U+0000 at index 1)"),
        ("K1\n", "control character"),
        ("K\t1", "control character"),
        ("\x7fK1", "control character"),
        ("K1\u2028", "line separator"),
        ("K\ud8001", "lone surrogate"),
        ("K\ue0001", "private-use"),
        ("K\U000e01f01", "unassigned"),
        ("x" * (MAX_NAME_LEN + 1), f"at most {MAX_NAME_LEN} characters"),
        ("x" * 10**6, f"at most {MAX_NAME_LEN} characters"),
        (None, "non-empty string"),
        (b"K1", "non-empty string"),
        (1001, "non-empty string"),
        (["K1"], "non-empty string"),
    ]
    + [(f"K{c}1", "format character") for c in BIDI + ZERO_WIDTH_AND_BOM],
)
def test_bad_names_are_refused_with_one_line_naming_field_and_problem(value, problem):
    with pytest.raises(ValueError) as info:
        check_name(value, "lock name")
    message = str(info.value)
    assert message.startswith("a lock name "), message
    assert problem in message
    assert "\n" not in message and len(message) < 200
    # The refused characters are shown escaped, never raw (a U+202E would reverse the line).
    assert all(unicodedata.category(ch)[0] != "C" for ch in message)


def test_composed_and_decomposed_spellings_are_one_name():
    decomposed = "A\u030asa O\u0308berg"  # as macOS file names and some keyboards give it
    assert decomposed != "Åsa Öberg"
    assert check_name(decomposed, "holder name") == "Åsa Öberg"
    # NFC composes at most four code points into one: a long decomposed name that fits once
    # composed is accepted, and measured composed.
    assert check_name("\u03b1\u0313\u0300\u0345" * MAX_NAME_LEN, "holder name") == "\u1f82" * MAX_NAME_LEN


def test_the_article_follows_the_field():
    with pytest.raises(ValueError, match="^an ID06 card number must not"):
        check_name(" BB-1", "ID06 card number")
    with pytest.raises(ValueError, match="^a key name must not"):
        check_name(" K1", "key name")


def test_free_text_has_the_longer_limit(site):
    site.audit(reason="r" * MAX_TEXT_LEN, by="Eva")
    with pytest.raises(ValueError, match=f"at most {MAX_TEXT_LEN} characters"):
        site.audit(reason="r" * (MAX_TEXT_LEN + 1), by="Eva")


# --- properties (hypothesis) -----------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=120)  # surrogates included
# Mostly printable text (with combining marks, so NFC has work to do), now and then anything.
accepted = st.one_of(
    st.text(st.characters(exclude_categories=["C", "Zl", "Zp"]), min_size=1, max_size=120),
    any_text,
).filter(lambda s: _accepts(s))
space = st.characters(categories=["Zs"]) | st.sampled_from(" \u00a0\u2003\u3000")
control = st.characters(categories=["Cc", "Cf"]) | st.sampled_from(["\x00", *BIDI])
valid_name = st.text(st.characters(categories=["L", "N", "P", "S", "M"]), min_size=1, max_size=40).map(
    lambda s: unicodedata.normalize("NFC", s)
)


def _accepts(value):
    try:
        check_name(value, "key name")
    except ValueError:
        return False
    return True


@given(st.one_of(any_text, st.binary(), st.integers(), st.floats(), st.none(), st.lists(any_text, max_size=3)))
def test_the_checker_raises_nothing_but_value_error(value):
    try:
        name = check_name(value, "key name")
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(name, str)


@given(accepted)
def test_an_accepted_name_is_nfc_clean_and_a_fixed_point(value):
    name = check_name(value, "key name")
    assert name == unicodedata.normalize("NFC", value)
    assert check_name(name, "key name") == name
    assert check_name(unicodedata.normalize("NFD", name), "key name") == name
    assert name == name.strip() and 0 < len(name) <= MAX_NAME_LEN
    assert not any(unicodedata.category(ch)[0] == "C" for ch in name)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(accepted)
def test_an_accepted_name_round_trips_through_the_database(value):
    with AccessServer.create(":memory:", now_s=Clock()) as server:
        server.add_holder(value, value, START_S + YEAR_S)
        server.add_key(value, value)
        lock_id = server.add_lock(value, group=value)
        server.add_phone(value)
        name = check_name(value, "key name")
        assert server.key_info(value).name == name
        assert server.key_name(server.key_id(unicodedata.normalize("NFD", value))) == name
        assert server.lock_name(lock_id) == name and server.lock_id(unicodedata.normalize("NFD", name)) == lock_id
        assert server.group_name(server.group_id(value)) == name
        assert server.phone_name(server.phone_id(value)) == name
        server.grant(value, groups=[unicodedata.normalize("NFD", value)])
        server.audit(lock=value, reason=value, by=value)
        (retrieval,) = server.audit_retrievals()
        assert (retrieval.by, retrieval.reason, retrieval.lock) == (name, name, name)


@given(valid_name, control, st.integers(min_value=0, max_value=40))
def test_a_name_with_a_control_or_format_character_is_refused(name, ch, at):
    at = min(at, len(name))
    with pytest.raises(ValueError, match="must not contain"):
        check_name(name[:at] + ch + name[at:], "key name")


@given(valid_name, space, st.sampled_from(["before", "after", "both"]))
def test_a_name_with_surrounding_white_space_is_refused(name, ws, where):
    value = (ws if where != "after" else "") + name + (ws if where != "before" else "")
    with pytest.raises(ValueError, match="white space"):
        check_name(value, "key name")


# --- every entry point and lookup ----------------------------------------------------

# (method, how to place the bad name X in its arguments, the field the message names)
ENTRY_POINTS = [
    ("add_holder", lambda x: ((x, "BB-9", START_S + YEAR_S), {}), "holder name"),
    ("add_holder", lambda x: (("Bo", x, START_S + YEAR_S), {}), "ID06 card number"),
    ("block_card", lambda x: ((x,), {}), "ID06 card number"),
    ("add_key", lambda x: ((x, "Anna Berg"), {}), "key name"),
    ("add_key", lambda x: (("K2", x), {}), "holder name"),
    ("sign_receipt", lambda x: ((x,), {}), "key name"),
    ("approve", lambda x: ((x,), {}), "key name"),
    ("key_info", lambda x: ((x,), {}), "key name"),
    ("provision_key", lambda x: ((x,), {}), "key name"),
    ("add_group", lambda x: ((x,), {}), "group name"),
    ("add_lock", lambda x: ((x,), {}), "lock name"),
    ("add_lock", lambda x: (("L9",), {"group": x}), "group name"),
    ("add_lock", lambda x: (("L9",), {"group": ["depot", x]}), "group name"),
    ("provision_lock", lambda x: ((x,), {}), "lock name"),
    ("add_phone", lambda x: ((x,), {}), "phone name"),
    ("grant", lambda x: ((x,), {"locks": ["L1"]}), "key name"),
    ("grant", lambda x: (("K1",), {"locks": ["L1", x]}), "lock name"),
    ("grant", lambda x: (("K1",), {"groups": [x]}), "group name"),
    ("revoke", lambda x: ((x,), {"locks": ["L1"]}), "key name"),
    ("revoke", lambda x: (("K1",), {"locks": [x]}), "lock name"),
    ("revoke", lambda x: (("K1",), {"groups": [x]}), "group name"),
    ("validate", lambda x: ((x,), {}), "key name"),
    ("block", lambda x: ((x,), {}), "key name"),
    ("unblock", lambda x: ((x,), {}), "key name"),
    ("battery_reading", lambda x: ((x, 0.5), {}), "key name"),
    ("audit", lambda x: ((), {"lock": x, "reason": "incident", "by": "Eva"}), "lock name"),
    ("audit", lambda x: ((), {"key": x, "reason": "incident", "by": "Eva"}), "key name"),
    ("audit", lambda x: ((), {"reason": x, "by": "Eva"}), "reason for reading the audit trail"),
    ("audit", lambda x: ((), {"reason": "incident", "by": x}), "who reads the audit trail"),
    ("key_id", lambda x: ((x,), {}), "key name"),
    ("lock_id", lambda x: ((x,), {}), "lock name"),
    ("group_id", lambda x: ((x,), {}), "group name"),
    ("phone_id", lambda x: ((x,), {}), "phone name"),
]
# Each bad name next to an existing one ("K1", "L1", "depot", ...) where that matters: the
# surrounding space must not quietly find the existing row.
BAD_NAMES = {
    "leading space": (" {}", "white space"),
    "trailing space": ("{} ", "white space"),
    "NUL": ("{}\x00", "control character"),
    "RLO": ("\u202e{}", "format character"),
    "LRI": ("{}\u2066", "format character"),
    "empty": ("", "non-empty"),
    "too long": ("x" * (MAX_TEXT_LEN + 1), "characters long"),
}
EXISTING = {"holder name": "Anna Berg", "ID06 card number": "BB-1234-567890", "key name": "K1", "lock name": "L1", "group name": "depot"}


@pytest.fixture
def busy_site(site):
    site.grant("K1", locks=["L1"])
    site.add_phone("P1")
    return site


@pytest.mark.parametrize("bad", list(BAD_NAMES))
@pytest.mark.parametrize("method, place, field", ENTRY_POINTS, ids=[f"{m}-{f.split()[0]}" for m, _, f in ENTRY_POINTS])
def test_every_entry_point_refuses_a_bad_name_and_changes_nothing(busy_site, db_path, method, place, field, bad):
    template, problem = BAD_NAMES[bad]
    value = template.format(EXISTING.get(field, "P1"))
    args, kwargs = place(value)
    before = dump(db_path)
    with pytest.raises(ValueError) as info:
        getattr(busy_site, method)(*args, **kwargs)
    message = str(info.value)
    assert field in message and problem in message, message
    assert "\n" not in message
    assert dump(db_path) == before
    assert busy_site.audit_retrievals() == []


def test_k1_and_spaced_k1_are_not_three_keys(site):
    for spaced in (" K1", "K1 ", " K1 "):
        with pytest.raises(ValueError, match="white space"):
            site.add_key(spaced, "Anna Berg")
        with pytest.raises(ValueError, match="white space"):  # the lookup says why, not "unknown key"
            site.key_id(spaced)
    assert site.key_id("K1") == 1001


def test_decomposed_spellings_find_the_composed_rows(site):
    composed, decomposed = "Åsa Öberg", "A\u030asa O\u0308berg"
    site.add_holder(decomposed, "ÖB-1", START_S + YEAR_S)
    with pytest.raises(ValueError, match="already exists"):
        site.add_holder(composed, "ÖB-2", START_S + YEAR_S)
    with pytest.raises(ValueError, match="already belongs"):
        site.add_holder("Bo", "O\u0308B-1", START_S + YEAR_S)
    key_id = site.add_key("Nyckel Å", composed)
    assert site.key_info("Nyckel A\u030a").name == "Nyckel Å"
    assert site.key_info("Nyckel Å").holder == composed
    assert site.key_id("Nyckel A\u030a") == key_id
    with pytest.raises(ValueError, match="already exists"):
        site.add_key("Nyckel A\u030a", composed)
    site.add_lock("Förråd", group="Gård")
    site.grant("Nyckel Å", locks=["Fo\u0308rra\u030ad"], groups=["Ga\u030ard"])
    rights = site.validate("Nyckel A\u030a").credential["rights"]
    assert {r["target"] for r in rights} == {site.lock_id("Förråd"), site.group_id("Gård")}
    site.revoke("Nyckel Å", groups=["Gård"])


def test_a_group_named_twice_in_two_spellings_is_one_group(site):
    lock_id = site.add_lock("L9", group=["Gård", "Ga\u030ard"])
    p = site.provision_lock("L9")
    assert lock_id and p["groups"] == [site.group_id("Gård")]


def test_audit_reader_and_reason_are_stored_normalised_not_stripped(site):
    site.audit(reason="do\u0308rr", by="E\u0301va")
    (r,) = site.audit_retrievals()
    assert (r.by, r.reason) == ("Éva", "dörr")
    with pytest.raises(ValueError, match="white space"):
        site.audit(reason="incident ", by="Eva")
    assert len(site.audit_retrievals()) == 1
