import pytest

import module as m

ROOMS = [m.Room("Dune", 12, True), m.Room("Cedar", 8), m.Room("Birch", 8, True), m.Room("Atlas", 4)]


def calendar():
    return m.RoomCalendar(ROOMS)


def test_parse_and_format_hhmm():
    assert m.parse_hhmm("09:30") == 570
    assert m.parse_hhmm("00:00") == 0
    assert m.parse_hhmm("19:05") == 1145
    assert m.format_hhmm(570) == "09:30"
    assert m.format_hhmm(0) == "00:00"
    assert m.format_hhmm(1385) == "23:05"


def test_room_default_has_no_video():
    assert m.Room("x", 2).has_video is False


def test_overlaps_half_open_ranges():
    booking = m.Booking("Atlas", 600, 660, "ann")
    assert booking.overlaps(660, 720) is False
    assert booking.overlaps(540, 600) is False
    assert booking.overlaps(630, 690) is True
    assert booking.overlaps(570, 630) is True
    assert booking.overlaps(540, 720) is True
    assert booking.overlaps(610, 620) is True
    assert booking.overlaps(600, 660) is True


def test_book_returns_booking_and_stores_it():
    cal = calendar()
    booking = cal.book("Atlas", 540, 600, "ann")
    assert booking == m.Booking("Atlas", 540, 600, "ann")
    assert cal.bookings == [booking]


def test_book_validation_errors():
    cal = calendar()
    with pytest.raises(KeyError):
        cal.book("Nowhere", 540, 600, "ann")
    for start, end in [(545, 600), (540, 610), (450, 540), (1080, 1170), (600, 600), (660, 600),
                       (540, 810)]:
        with pytest.raises(ValueError):
            cal.book("Atlas", start, end, "ann")
    assert cal.bookings == []


def test_book_boundaries_accepted():
    cal = calendar()
    cal.book("Atlas", 480, 510, "ann")
    cal.book("Atlas", 1110, 1140, "ann")
    cal.book("Cedar", 540, 780, "bob")
    assert len(cal.bookings) == 3


def test_book_conflicts_only_in_same_room():
    cal = calendar()
    cal.book("Atlas", 540, 600, "ann")
    with pytest.raises(ValueError):
        cal.book("Atlas", 570, 630, "bob")
    cal.book("Atlas", 600, 630, "bob")
    cal.book("Cedar", 540, 600, "bob")
    assert len(cal.bookings) == 3


def test_is_free():
    cal = calendar()
    cal.book("Atlas", 540, 600, "ann")
    assert cal.is_free("Atlas", 600, 660) is True
    assert cal.is_free("Atlas", 510, 570) is False
    assert cal.is_free("Cedar", 540, 600) is True


def test_cancel_requires_organizer_and_matching_booking():
    cal = calendar()
    first = cal.book("Atlas", 540, 600, "ann")
    cal.book("Atlas", 600, 660, "bob")
    third = cal.book("Cedar", 600, 660, "bob")
    assert cal.cancel("Atlas", 600, "ann") is False
    assert cal.cancel("Atlas", 660, "bob") is False
    assert cal.cancel("Atlas", 600, "bob") is True
    assert cal.bookings == [first, third]
    assert cal.cancel("Atlas", 600, "bob") is False
    assert cal.cancel("Cedar", 600, "bob") is True
    assert cal.bookings == [first]
    assert cal.cancel("Atlas", 540, "ann") is True
    assert cal.bookings == []


def test_free_ranges_merge_adjacent_slots():
    cal = calendar()
    assert cal.free_ranges("Atlas") == [(480, 1140)]
    cal.book("Atlas", 540, 600, "ann")
    cal.book("Atlas", 720, 750, "bob")
    assert cal.free_ranges("Atlas") == [(480, 540), (600, 720), (750, 1140)]


def test_free_ranges_at_day_edges():
    cal = calendar()
    cal.book("Atlas", 480, 510, "ann")
    cal.book("Atlas", 1110, 1140, "ann")
    assert cal.free_ranges("Atlas") == [(510, 1110)]


def test_find_room_smallest_fitting():
    cal = calendar()
    assert cal.find_room(4, 540, 600) == "Atlas"
    assert cal.find_room(3, 540, 600) == "Atlas"
    assert cal.find_room(5, 540, 600) == "Birch"
    assert cal.find_room(8, 540, 600) == "Birch"
    assert cal.find_room(9, 540, 600) == "Dune"
    assert cal.find_room(13, 540, 600) is None


def test_find_room_video_and_busy_rooms():
    cal = calendar()
    assert cal.find_room(2, 540, 600, video=True) == "Birch"
    cal.book("Birch", 540, 600, "ann")
    assert cal.find_room(5, 540, 600) == "Cedar"
    assert cal.find_room(5, 540, 600, video=True) == "Dune"
    assert cal.find_room(5, 600, 660, video=True) == "Birch"


def test_utilisation():
    cal = calendar()
    assert cal.utilisation("Atlas") == 0.0
    cal.book("Atlas", 480, 600, "ann")
    cal.book("Cedar", 480, 720, "ann")
    assert cal.utilisation("Atlas") == 120 / 660
    cal.book("Atlas", 600, 810, "bob")
    assert cal.utilisation("Atlas") == 0.5


def test_agenda_sorted_for_organizer():
    cal = calendar()
    cal.book("Cedar", 900, 960, "ann")
    cal.book("Atlas", 540, 600, "bob")
    cal.book("Atlas", 600, 630, "ann")
    assert cal.agenda("ann") == ["10:00-10:30 Atlas", "15:00-16:00 Cedar"]
    assert cal.agenda("bob") == ["09:00-10:00 Atlas"]
    assert cal.agenda("eve") == []
