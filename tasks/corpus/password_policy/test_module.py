import module as m

POLICY = m.Policy()


def test_policy_defaults():
    assert (POLICY.min_length, POLICY.max_length, POLICY.min_classes, POLICY.max_repeat) == (
        12, 128, 3, 3)


def test_character_classes_each_key():
    assert m.character_classes("abc") == {
        "lower": True, "upper": False, "digit": False, "symbol": False}
    assert m.character_classes("ABC") == {
        "lower": False, "upper": True, "digit": False, "symbol": False}
    assert m.character_classes("123") == {
        "lower": False, "upper": False, "digit": True, "symbol": False}
    assert m.character_classes("! ") == {
        "lower": False, "upper": False, "digit": False, "symbol": True}
    assert m.character_classes("a b") == {
        "lower": True, "upper": False, "digit": False, "symbol": True}
    assert m.character_classes("") == {
        "lower": False, "upper": False, "digit": False, "symbol": False}


def test_longest_run():
    assert m.longest_run("") == 0
    assert m.longest_run("a") == 1
    assert m.longest_run("ab") == 1
    assert m.longest_run("aab") == 2
    assert m.longest_run("abbbc") == 3
    assert m.longest_run("aaaab") == 4
    assert m.longest_run("abccc") == 3
    assert m.longest_run("aabbbaa") == 3


def test_has_sequence():
    assert m.has_sequence("xabcdx") is True
    assert m.has_sequence("1234") is True
    assert m.has_sequence("xx4567") is True
    assert m.has_sequence("ABCD") is True
    assert m.has_sequence("abc") is False
    assert m.has_sequence("abce") is False
    assert m.has_sequence("dcba") is False
    assert m.has_sequence("") is False
    assert m.has_sequence("xabc", length=3) is True
    assert m.has_sequence("abx", length=3) is False


def test_violations_strong_passwords_pass():
    assert m.violations("Tr0ub4dor&3xyz!", POLICY) == []
    assert m.violations("Zq8!mW2#pL5r", POLICY) == []


def test_violations_length_boundaries():
    assert m.violations("Zq8!mW2#pL5", POLICY) == ["too_short"]
    policy = m.Policy(max_length=13)
    assert m.violations("Zq8!mW2#pL5rT", policy) == []
    assert m.violations("Zq8!mW2#pL5rTu", policy) == ["too_long"]


def test_violations_classes_and_repeats():
    assert m.violations("qwpzmxnbv918", POLICY) == ["too_few_classes"]
    assert m.violations("qwpzmxnbv91!", POLICY) == []
    assert m.violations("Qaaa8!mW2#pL", POLICY) == []
    assert m.violations("Qaaaa!mW2#pL", POLICY) == ["repeated_characters"]


def test_violations_sequence_and_common():
    assert m.violations("Xy!1234zqwpm", POLICY) == ["sequence"]
    assert m.violations("Password", POLICY) == ["too_short", "too_few_classes", "common_password"]
    assert m.violations("qwerty", m.Policy(min_length=6, min_classes=1)) == ["common_password"]


def test_mentions_personal():
    assert m.mentions_personal("xSMITHx!9Qrt", ["Smith", "Jo"]) is True
    assert m.mentions_personal("Jo!x9Qrtmnbv", ["Smith", "Jo"]) is False
    assert m.mentions_personal("Joe!9Qrtmnbv", ["joe"]) is True
    assert m.mentions_personal("abc", []) is False


def test_violations_appends_to_given_list():
    problems = ["email: invalid"]
    result = m.violations("short", m.Policy(min_classes=1), problems)
    assert result is problems
    assert problems == ["email: invalid", "too_short"]


def test_violations_default_list_is_fresh_each_call():
    assert m.violations("Password", POLICY) == ["too_short", "too_few_classes", "common_password"]
    assert m.violations("Zq8!mW2#pL5r", POLICY) == []
    assert m.violations("qwerty", m.Policy(min_length=6, min_classes=1)) == ["common_password"]


def test_strength_score():
    assert m.strength_score("") == 0
    assert m.strength_score("abc") == 0
    assert m.strength_score("abcdefgh") == 2
    assert m.strength_score("ABCDEFGH") == 2
    assert m.strength_score("!!!!!!") == 1
    assert m.strength_score("1234567") == 0
    assert m.strength_score("12345678901") == 2
    assert m.strength_score("123456789012345678") == 2
    assert m.strength_score("1234567890123456789") == 3
    assert m.strength_score("Tr0ub4dor&3xyz!") == 3
    assert m.strength_score("Tr0ub4dor&3xyz!Tr0ub") == 4


def test_recently_used():
    history = [f"h{i}" for i in range(1, 8)]
    assert m.recently_used("h3", history) is True
    assert m.recently_used("h7", history) is True
    assert m.recently_used("h2", history) is False
    assert m.recently_used("h1", history, depth=10) is True
    assert m.recently_used("h7", history, depth=0) is False
    assert m.recently_used("h6", history, depth=1) is False
    assert m.recently_used("x", []) is False


def test_lockout_after_threshold_within_window():
    tracker = m.LockoutTracker()
    for t in (0, 100, 200, 300):
        tracker.record_failure("ann", t)
    assert tracker.is_locked("ann", 301) is False
    tracker.record_failure("ann", 400)
    assert tracker.is_locked("ann", 459) is True
    assert tracker.is_locked("ann", 460) is False
    assert tracker.failures["ann"] == []
    assert tracker.lockouts == {"ann": 1}
    assert tracker.is_locked("bob", 401) is False


def test_failures_outside_window_are_forgotten():
    tracker = m.LockoutTracker(threshold=2)
    tracker.record_failure("ann", 0)
    tracker.record_failure("ann", 900)
    assert tracker.failures["ann"] == [900]
    assert tracker.is_locked("ann", 901) is False
    tracker.record_failure("ann", 1799)
    assert tracker.is_locked("ann", 1800) is True


def test_lockout_duration_doubles_and_success_keeps_history():
    tracker = m.LockoutTracker(threshold=2, base_lock_seconds=60)
    tracker.record_failure("ann", 0)
    tracker.record_failure("ann", 1)
    assert tracker.locked_until["ann"] == 61
    tracker.record_failure("ann", 100)
    tracker.record_success("ann")
    assert "ann" not in tracker.failures
    tracker.record_failure("ann", 200)
    tracker.record_failure("ann", 201)
    assert tracker.locked_until["ann"] == 321
    tracker.record_failure("ann", 400)
    tracker.record_failure("ann", 401)
    assert tracker.locked_until["ann"] == 641
    tracker.record_success("nobody")
