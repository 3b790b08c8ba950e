# Keys and their life cycle, and every refusal of a validation with its precedence.
import pytest
from server_testkit import DAY_S, START_S, YEAR_S

from keylock.host.server import VALIDATION_REFUSALS, VALIDATION_S, ServerError


@pytest.fixture
def carried(evidence):
    """What K1 carries: one genuine event of L1's."""
    return evidence.upload("K1", [evidence.record("L1", 1, t=START_S - 60)])


def refused(server, key, **kw):
    with pytest.raises(ServerError) as info:
        server.validate(key, **kw)
    assert info.value.code in VALIDATION_REFUSALS
    return info.value.code


def test_ids_are_numbered_per_kind_and_names_map_both_ways(site):
    assert site.key_id("K1") == 1001 and site.key_name(1001) == "K1"
    assert [site.lock_id(n) for n in ("L1", "L2", "L3")] == [101, 102, 103]
    assert site.group_id("depot") == 1 and site.group_name(1) == "depot"
    assert site.add_phone("P1") == 501 and site.add_phone("P2") == 502
    assert site.phone_id("P2") == 502 and site.phone_name(501) == "P1"
    assert site.lock_name(103) == "L3"
    assert site.add_group("yard") == 2


def test_a_key_walks_its_life_cycle_to_validated(site, clock):
    site.add_key("K2", "Anna Berg", state="issued")
    assert refused(site, "K2") == "not_activated"
    site.sign_receipt("K2")
    assert site.key_info("K2").state == "receipt_signed"
    assert refused(site, "K2") == "unapproved"
    site.approve("K2")
    assert site.key_info("K2").validated_at_s is None
    v = site.validate("K2")
    info = site.key_info("K2")
    assert (info.state, info.validated_at_s, info.valid_until_s) == ("approved", START_S, START_S + VALIDATION_S)
    assert v.server_time == START_S and v.credential["valid_until"] == START_S + VALIDATION_S


def test_life_cycle_steps_cannot_be_skipped_or_repeated(site):
    site.add_key("K2", "Anna Berg", state="issued")
    with pytest.raises(ValueError, match="receipt"):
        site.approve("K2")
    site.sign_receipt("K2")
    with pytest.raises(ValueError):
        site.sign_receipt("K2")
    site.approve("K2")
    with pytest.raises(ValueError):
        site.approve("K2")


def test_unapproved_is_a_synonym_of_receipt_signed(site):
    site.add_key("K2", "Anna Berg", state="unapproved")
    assert site.key_info("K2").state == "receipt_signed"


def test_offline(site, carried):
    assert refused(site, "K1", online=False) == "offline"
    # The server was not reached: nothing was recorded, not even the audit the key carried.
    assert refused(site, "K1", online=False, audit=carried, soc=0.1) == "offline"
    assert site.key_info("K1").validated_at_s is None
    assert site.audit(reason="test", by="pytest") == [] and site.battery_report() == []
    assert site.audit_rejections() == []
    assert site.validate("K1").uploaded_to == 0  # nor did the key's upload position move


def test_blocked(site):
    site.block("K1")
    assert refused(site, "K1") == "blocked"
    site.unblock("K1")
    site.validate("K1")


def test_card_expired_and_card_blocked(site, clock):
    site.add_holder("Bo", "BB-2", START_S + DAY_S)
    site.add_key("K2", "Bo")
    site.validate("K2")
    clock.advance(DAY_S - 1)
    site.validate("K2")
    clock.advance(1)  # the expiry instant itself is expired
    assert refused(site, "K2") == "card_expired"
    site.block_card("BB-1234-567890")
    assert refused(site, "K1") == "card_expired"
    site.add_holder("Cy", "BB-3", START_S + YEAR_S, blocked=True)
    site.add_key("K3", "Cy")
    assert refused(site, "K3") == "card_expired"


@pytest.mark.parametrize(
    "blocked, card, state, expected",
    [
        (True, "expired", "issued", "blocked"),
        (True, "ok", "receipt_signed", "blocked"),
        (False, "expired", "issued", "card_expired"),
        (False, "blocked", "receipt_signed", "card_expired"),
        (False, "ok", "issued", "not_activated"),
        (False, "ok", "receipt_signed", "unapproved"),
    ],
)
def test_precedence(server, blocked, card, state, expected):
    expires_s = START_S - 1 if card == "expired" else START_S + YEAR_S
    server.add_holder("H", "C-1", expires_s, blocked=card == "blocked")
    server.add_key("K", "H", state=state)
    if blocked:
        server.block("K")
    assert refused(server, "K") == expected
    # offline comes before everything: the server is not reached at all
    assert refused(server, "K", online=False) == "offline"


def test_a_refused_key_still_uploads_its_audit_and_battery(site, carried):
    site.block("K1")
    assert refused(site, "K1", audit=carried, soc=0.05) == "blocked"
    assert [e.seq for e in site.audit(key="K1", reason="lost key", by="pytest")] == [1]
    assert site.battery_report() == ["K1"]
    assert site.key_info("K1").validated_at_s is None
    site.unblock("K1")
    assert site.validate("K1").uploaded_to == 1  # the refused key's upload counted


def test_validation_is_good_for_ten_days_capped_by_not_after(server):
    server.add_holder("H", "C-1", START_S + YEAR_S)
    server.add_key("K", "H", not_before_s=START_S - DAY_S, not_after_s=START_S + 3 * DAY_S)
    cred = server.validate("K").credential
    assert (cred["not_before"], cred["not_after"]) == (START_S - DAY_S, START_S + 3 * DAY_S)
    assert cred["valid_until"] == START_S + 3 * DAY_S
    assert cred["issued_at"] == START_S


def test_a_new_grant_reaches_the_key_at_its_next_validation(site, clock):
    assert site.validate("K1").credential["rights"] == []
    site.grant("K1", locks=["L3"])
    clock.advance(DAY_S)
    v = site.validate("K1")
    assert [r["target"] for r in v.credential["rights"]] == [103]
    assert site.key_info("K1").valid_until_s == START_S + DAY_S + VALIDATION_S


def test_server_error_message_names_the_code(site):
    site.block("K1")
    with pytest.raises(ServerError, match="^blocked: "):
        site.validate("K1")
