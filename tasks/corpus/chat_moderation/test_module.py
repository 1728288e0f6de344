import module as m


def msg(text, user="ann", channel="general", sent_at=0.0):
    return {"user": user, "channel": channel, "text": text, "sent_at": sent_at}


def test_mask_word():
    assert m.mask_word("heck") == "h***"
    assert m.mask_word("Darn") == "D***"
    assert m.mask_word("ab") == "a*"
    assert m.mask_word("a") == "a"
    assert m.mask_word("") == ""


def test_filter_message_masks_whole_words():
    assert m.filter_message("what the heck, HECK!") == ("what the h***, H***!", 2)
    assert m.filter_message("checking the deck") == ("checking the deck", 0)
    assert m.filter_message("darn") == ("d***", 1)
    assert m.filter_message("oh frick") == ("oh f****", 1)
    assert m.filter_message("heck's fine") == ("heck's fine", 0)
    assert m.filter_message("") == ("", 0)


def test_filter_message_custom_list():
    assert m.filter_message("buy spam now", frozenset({"spam"})) == ("buy s*** now", 1)
    assert m.filter_message("heck spam", frozenset({"spam"})) == ("heck s***", 1)


def test_is_shouting():
    assert m.is_shouting("OK LOL") is False
    assert m.is_shouting("HELLO WORLD") is True
    assert m.is_shouting("ABCDEFGH") is True
    assert m.is_shouting("ABCDEFG!!") is False
    assert m.is_shouting("ABCDEFGhij") is True
    assert m.is_shouting("ABCDEFghij") is False
    assert m.is_shouting("hello world") is False
    assert m.is_shouting("") is False


def test_violations_each_rule():
    assert m.violations("hello there") == []
    assert m.violations("x" * 500) == []
    assert m.violations("x" * 501) == ["too_long"]
    two = "see https://a.example and http://b.example"
    assert m.violations(two) == []
    assert m.violations(two + " https://c.example") == ["links"]
    assert m.violations("STOP DOING THAT") == ["shouting"]
    assert m.violations("oh heck") == ["language"]


def test_violations_order():
    text = "STOP POSTING THE SAME HECK LINKS IN HERE EVERY SINGLE DAY PLEASE http://x.io " * 3
    assert m.violations(text) == ["links", "shouting", "language"]
    assert m.violations("HECK " * 101) == ["too_long", "shouting", "language"]


def test_action_for():
    expected = {0: "none", 1: "warn", 2: "warn", 3: "mute", 4: "mute", 5: "ban", 9: "ban"}
    for strikes, action in expected.items():
        assert m.action_for(strikes) == action


def test_strike_escalation():
    book = m.StrikeBook()
    actions = [book.add("ann", float(t)) for t in range(5)]
    assert actions == ["warn", "warn", "mute", "mute", "ban"]
    assert book.active("ann", 10.0) == 5
    assert book.active("bob", 10.0) == 0


def test_strike_decay_boundary():
    book = m.StrikeBook()
    book.add("ann", 0.0)
    book.add("ann", 100.0)
    day = 86_400
    assert book.active("ann", day - 1) == 2
    assert book.active("ann", day) == 1
    assert book.active("ann", day + 100) == 0
    assert book.add("ann", day + 100) == "warn"


def test_strike_books_independent():
    first = m.StrikeBook()
    first.add("ann", 0.0)
    assert m.StrikeBook().active("ann", 0.0) == 0


def test_slow_mode_interval():
    slow = m.SlowMode({"general": 30})
    assert slow.try_send("general", "ann", 0.0) is True
    assert slow.wait_time("general", "ann", 10.0) == 20.0
    assert slow.try_send("general", "ann", 10.0) is False
    assert slow.try_send("general", "ann", 29.5) is False
    assert slow.try_send("general", "ann", 30.0) is True
    assert slow.wait_time("general", "ann", 100.0) == 0.0
    assert slow.wait_time("general", "bob", 31.0) == 0.0


def test_slow_mode_per_channel_and_user():
    slow = m.SlowMode({"general": 30, "memes": 5})
    assert slow.try_send("general", "ann", 0.0) is True
    assert slow.try_send("memes", "ann", 1.0) is True
    assert slow.try_send("general", "bob", 1.0) is True
    assert slow.try_send("memes", "ann", 5.0) is False
    assert slow.try_send("memes", "ann", 6.0) is True
    assert slow.try_send("random", "ann", 0.0) is True
    assert slow.try_send("random", "ann", 0.0) is True


def test_slow_mode_exempt():
    slow = m.SlowMode({"general": 30}, ["mod"])
    assert slow.try_send("general", "mod", 0.0) is True
    assert slow.try_send("general", "mod", 1.0) is True
    other = m.SlowMode({"general": 30})
    other.exempt_user("eve")
    assert other.try_send("general", "eve", 0.0) is True
    assert other.try_send("general", "eve", 1.0) is True


def test_slow_mode_default_exempt_not_shared():
    first = m.SlowMode({"general": 30})
    first.exempt_user("eve")
    second = m.SlowMode({"general": 30})
    assert second.exempt == []
    assert second.try_send("general", "eve", 0.0) is True
    assert second.try_send("general", "eve", 1.0) is False


def test_moderate_clean_and_warned():
    book, slow = m.StrikeBook(), m.SlowMode({"general": 10})
    assert m.moderate(msg("hi all"), book, slow) == {"allowed": True, "text": "hi all",
                                                     "action": "none"}
    result = m.moderate(msg("oh heck", sent_at=20.0), book, slow)
    assert result == {"allowed": True, "text": "oh h***", "action": "warn"}
    assert book.active("ann", 20.0) == 1
    assert book.active("general", 20.0) == 0


def test_moderate_slowed_and_muted():
    book, slow = m.StrikeBook(), m.SlowMode({"general": 10})
    assert m.moderate(msg("a", sent_at=0.0), book, slow)["action"] == "none"
    assert m.moderate(msg("b", sent_at=5.0), book, slow) == {"allowed": False, "text": "",
                                                             "action": "slowed"}
    assert m.moderate(msg("b", user="bob", sent_at=5.0), book, slow)["allowed"] is True
    assert m.moderate(msg("b", channel="other", sent_at=5.0), book, slow)["allowed"] is True
    for t in (20.0, 40.0):
        assert m.moderate(msg("darn", sent_at=t), book, slow)["action"] == "warn"
    result = m.moderate(msg("DARN IT ALL", sent_at=60.0), book, slow)
    assert result == {"allowed": False, "text": "D*** IT ALL", "action": "mute"}
