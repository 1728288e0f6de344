"""Meeting room bookings for one office day.

Times are minutes after midnight and a booking covers the half-open range [start, end).
"""
from dataclasses import dataclass

OPEN_MINUTE = 8 * 60
CLOSE_MINUTE = 19 * 60
SLOT_MINUTES = 30
MAX_BOOKING_MINUTES = 4 * 60


def parse_hhmm(text: str) -> int:
    """'09:30' -> 570."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def format_hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Room:
    name: str
    capacity: int
    has_video: bool = False


@dataclass(frozen=True)
class Booking:
    room: str
    start: int
    end: int
    organizer: str

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


class RoomCalendar:
    """Rooms of one office and the bookings made for them today."""

    def __init__(self, rooms: list[Room]) -> None:
        self.rooms = {room.name: room for room in rooms}
        self.bookings: list[Booking] = []

    def is_free(self, room: str, start: int, end: int) -> bool:
        for booking in self.bookings:
            if booking.room == room and booking.overlaps(start, end):
                return False
        return True

    def book(self, room: str, start: int, end: int, organizer: str) -> Booking:
        """Book whole slots inside office hours, at most MAX_BOOKING_MINUTES long."""
        if room not in self.rooms:
            raise KeyError(room)
        if start % SLOT_MINUTES != 0 or end % SLOT_MINUTES != 0:
            raise ValueError("bookings start and end on a slot boundary")
        if start < OPEN_MINUTE or end > CLOSE_MINUTE:
            raise ValueError("outside office hours")
        if end <= start or end - start > MAX_BOOKING_MINUTES:
            raise ValueError("invalid booking length")
        if not self.is_free(room, start, end):
            raise ValueError(f"{room} is already booked")
        booking = Booking(room, start, end, organizer)
        self.bookings.append(booking)
        return booking

    def cancel(self, room: str, start: int, organizer: str) -> bool:
        """Only the organizer can cancel; returns whether a booking was removed."""
        for index in range(len(self.bookings)):
            booking = self.bookings[index]
            if booking.room == room and booking.start == start and booking.organizer == organizer:
                del self.bookings[index]
                return True
        return False

    def free_ranges(self, room: str) -> list[tuple[int, int]]:
        """Free time of the room during office hours, adjacent free slots merged."""
        ranges = []
        for start in range(OPEN_MINUTE, CLOSE_MINUTE, SLOT_MINUTES):
            end = start + SLOT_MINUTES
            if not self.is_free(room, start, end):
                continue
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], end)
            else:
                ranges.append((start, end))
        return ranges

    def find_room(self, attendees: int, start: int, end: int, video: bool = False) -> str | None:
        """Smallest free room that seats everyone; on equal size the first name wins."""
        best = None
        for room in sorted(self.rooms.values(), key=lambda r: r.name):
            if room.capacity < attendees or (video and not room.has_video):
                continue
            if not self.is_free(room.name, start, end):
                continue
            if best is None or room.capacity < best.capacity:
                best = room
        return None if best is None else best.name

    def utilisation(self, room: str) -> float:
        """Booked share of the office day, from 0.0 to 1.0."""
        booked = 0
        for booking in self.bookings:
            if booking.room == room:
                booked += booking.end - booking.start
        return booked / (CLOSE_MINUTE - OPEN_MINUTE)

    def agenda(self, organizer: str) -> list[str]:
        """The organizer's bookings in time order, as 'HH:MM-HH:MM room'."""
        mine = [b for b in self.bookings if b.organizer == organizer]
        mine.sort(key=lambda b: b.start)
        return [f"{format_hhmm(b.start)}-{format_hhmm(b.end)} {b.room}" for b in mine]
