"""Food delivery back end: customers order, edit, cancel and follow their orders through a signed
tracking link; couriers see and complete the orders assigned to them; restaurant managers keep
their menu and refund orders; the payment provider confirms payments with a signed webhook."""
import base64
import hashlib
import hmac
import json
import logging
import math
import os
import sqlite3
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

audit = logging.getLogger("delivery.audit")

WEBHOOK_SECRET = os.environ["DELIVERY_WEBHOOK_SECRET"]
TRACKING_SECRET = os.environ["DELIVERY_TRACKING_SECRET"]
TRACKING_TTL = 4 * 3600
LOGO_HOSTS = frozenset({"cdn.dishdash.example", "img.dishdash.example"})
MAX_LOGO_BYTES = 2_000_000
MAX_NOTE_CHARS = 280
MIN_ORDER_CENTS = 1200
# Delivery fee in cents for a ride of up to so many km; further away is outside the delivery area.
FEE_BANDS = ((2.0, 199), (5.0, 299), (8.0, 449))
SURGE_CAP = 2.0
COURIER_KMH = 15.0
QUEUE_MINUTES = 4
HANDOVER_MINUTES = 3
ORDER_FIELDS = {"delivery_address", "delivery_notes", "contactless"}
MENU_FIELDS = {"name", "price_cents", "available"}
ORDER_COLUMNS = ("id", "user_id", "restaurant_id", "courier_id", "status", "delivery_address", "delivery_notes", "contactless", "total_cents", "refunded_cents")
ITEM_COLUMNS = ("id", "name", "price_cents", "available", "featured")


@dataclass
class Actor:
    id: int
    restaurant_id: int | None = None
    is_manager: bool = False


def delivery_fee(distance_km: float, surge: float = 1.0) -> int:
    """Fee in cents of the band the ride falls in, times the surge multiplier (never below 1, capped)."""
    if distance_km < 0:
        raise ValueError("negative distance")
    for limit_km, cents in FEE_BANDS:
        if distance_km <= limit_km:
            return round(cents * min(max(surge, 1.0), SURGE_CAP))
    raise ValueError("outside the delivery area")


def surge_multiplier(open_orders: int, couriers_online: int) -> float:
    """1.0 while couriers have two waiting orders each at most, then 0.25 more per extra order each."""
    if couriers_online == 0:
        return SURGE_CAP
    load = open_orders / couriers_online
    if load <= 2:
        return 1.0
    return min(round(1.0 + (load - 2) * 0.25, 2), SURGE_CAP)


def eta_minutes(prep_minutes: list[int], orders_ahead: int, distance_km: float) -> int:
    """Dishes cook side by side: the slowest one, the kitchen's queue, the ride and the handover."""
    preparation = max(prep_minutes, default=0) + orders_ahead * QUEUE_MINUTES
    ride = math.ceil(distance_km / COURIER_KMH * 60)
    return preparation + ride + HANDOVER_MINUTES


def basket_total(lines: list[dict], distance_km: float, surge: float) -> dict:
    """Dishes still available, the delivery fee and the total; a basket under the minimum is refused."""
    subtotal = 0
    for line in lines:
        if not line["available"]:
            continue
        subtotal += line["price_cents"] * line["quantity"]
    if subtotal < MIN_ORDER_CENTS:
        raise ValueError(f"the minimum order is {MIN_ORDER_CENTS} cents")
    fee = delivery_fee(distance_km, surge)
    return {"subtotal": subtotal, "delivery_fee": fee, "total": subtotal + fee}


def split_tip(tip_cents: int, ridden_km: dict[int, float]) -> dict[int, int]:
    """A relayed order's tip shared by distance ridden; the cents rounding leaves go to the furthest rider."""
    total_km = sum(ridden_km.values())
    if total_km <= 0:
        raise ValueError("no distance ridden")
    shares = {courier: math.floor(tip_cents * km / total_km) for courier, km in ridden_km.items()}
    furthest = max(ridden_km, key=ridden_km.get)
    shares[furthest] += tip_cents - sum(shares.values())
    return shares


def load_order(conn: sqlite3.Connection, order_id: int) -> dict:
    """Any order by id, for internal steps (callers check who may see or change it)."""
    row = conn.execute("SELECT id, user_id, restaurant_id, courier_id, status, delivery_address, delivery_notes, contactless, total_cents, refunded_cents FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None: raise LookupError(f"no order {order_id}")
    return dict(zip(ORDER_COLUMNS, row))


def customer_order(conn: sqlite3.Connection, actor: Actor, order_id: int) -> dict | None:
    row = conn.execute("SELECT id, user_id, restaurant_id, courier_id, status, delivery_address, delivery_notes, contactless, total_cents, refunded_cents FROM orders WHERE id = ? AND user_id = ?", (order_id, actor.id)).fetchone()
    return None if row is None else dict(zip(ORDER_COLUMNS, row))


def courier_order(conn: sqlite3.Connection, actor: Actor, order_id: int) -> tuple | None:
    """What a courier's app shows of an order assigned to them: (restaurant, address, notes, contactless)."""
    return conn.execute("SELECT restaurant_id, delivery_address, delivery_notes, contactless FROM orders WHERE id = ? AND courier_id = ?", (order_id, actor.id)).fetchone()


def edit_order(conn: sqlite3.Connection, actor: Actor, order_id: int, changes: dict) -> dict:
    """Customers may change where and how an order is delivered until the restaurant accepts it."""
    order = customer_order(conn, actor, order_id)
    if order is None: raise LookupError(f"no order {order_id}")
    if order["status"] != "placed": raise ValueError("the restaurant has already accepted the order")
    order.update({k: v for k, v in changes.items() if k in ORDER_FIELDS})
    conn.execute("UPDATE orders SET delivery_address = ?, delivery_notes = ?, contactless = ?, status = ?, total_cents = ? WHERE id = ?",
                 (order["delivery_address"], order["delivery_notes"], order["contactless"], order["status"], order["total_cents"], order_id))
    return order


def cancel_order(conn: sqlite3.Connection, actor: Actor, order_id: int) -> None:
    order = load_order(conn, order_id)
    if order["user_id"] != actor.id: raise PermissionError("not your order")
    cancelled = conn.execute("UPDATE orders SET status = 'cancelled' WHERE id = ? AND status IN ('placed', 'accepted')", (order_id,)).rowcount
    if not cancelled: raise ValueError("the order is on its way and can no longer be cancelled")


def mark_delivered(conn: sqlite3.Connection, actor: Actor, order_id: int) -> bool:
    return conn.execute("UPDATE orders SET status = 'delivered' WHERE id = ? AND status = 'picked_up' AND courier_id = ?", (order_id, actor.id)).rowcount == 1


def add_courier_note(conn: sqlite3.Connection, actor: Actor, order_id: int, note: str) -> None:
    """A courier's note on a delivery (gate code, left with a neighbour), kept with the order and audited."""
    order = load_order(conn, order_id)
    if order["courier_id"] != actor.id: raise PermissionError("not assigned to you")
    conn.execute("INSERT INTO courier_notes (order_id, courier_id, note) VALUES (?, ?, ?)", (order_id, actor.id, note[:MAX_NOTE_CHARS]))
    audit.info("courier %s noted on order %s: %r", actor.id, order_id, note)


def update_menu_item(conn: sqlite3.Connection, actor: Actor, item_id: int, changes: dict) -> dict:
    if not actor.is_manager: raise PermissionError("restaurant managers only")
    row = conn.execute("SELECT id, name, price_cents, available, featured FROM menu_items WHERE id = ? AND restaurant_id = ?", (item_id, actor.restaurant_id)).fetchone()
    if row is None: raise LookupError(f"no item {item_id} on your menu")
    item = dict(zip(ITEM_COLUMNS, row))
    item.update({k: v for k, v in changes.items() if k in MENU_FIELDS})
    if item["price_cents"] <= 0: raise ValueError("a dish needs a price")
    conn.execute("UPDATE menu_items SET name = ?, price_cents = ?, available = ?, featured = ? WHERE id = ?",
                 (item["name"], item["price_cents"], item["available"], item["featured"], item_id))
    return item


def refund_order(conn: sqlite3.Connection, actor: Actor, order_id: int, amount_cents: int) -> int:
    """Part or all of an order of the manager's restaurant paid back; returns what is left to refund."""
    order = load_order(conn, order_id)
    if order["restaurant_id"] != actor.restaurant_id: raise PermissionError("another restaurant's order")
    left = order["total_cents"] - order["refunded_cents"]
    if not 0 < amount_cents <= left: raise ValueError(f"at most {left} cents can be refunded")
    if not actor.is_manager: raise PermissionError("refunds need a manager")
    conn.execute("UPDATE orders SET refunded_cents = refunded_cents + ? WHERE id = ?", (amount_cents, order_id))
    conn.execute("INSERT INTO refunds (order_id, manager_id, amount_cents) VALUES (?, ?, ?)", (order_id, actor.id, amount_cents))
    return left - amount_cents


def sign(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def payment_webhook(conn: sqlite3.Connection, body: str, signature: str) -> int:
    """The payment provider's notice that an order was paid: {"order_id": ..., "amount_cents": ...}."""
    if not hmac.compare_digest(sign(body, WEBHOOK_SECRET), signature): raise ValueError("bad webhook signature")
    event = json.loads(body)
    order = load_order(conn, event["order_id"])
    if event["amount_cents"] != order["total_cents"]: raise ValueError("paid amount differs from the order total")
    conn.execute("UPDATE orders SET status = 'placed' WHERE id = ? AND status = 'awaiting_payment'", (order["id"],))
    return order["id"]


def tracking_token(order_id: int, now: float) -> str:
    """The token of the tracking link sent with the confirmation: whoever holds it may follow the order."""
    body = base64.urlsafe_b64encode(json.dumps({"order": order_id, "iat": now, "exp": now + TRACKING_TTL}).encode()).decode()
    return body + "." + sign(body, TRACKING_SECRET)


def track_order(conn: sqlite3.Connection, token: str, now: float) -> dict:
    body, _, mac = token.rpartition(".")
    if not hmac.compare_digest(sign(body, TRACKING_SECRET), mac): raise ValueError("bad tracking link")
    claims = json.loads(base64.urlsafe_b64decode(body))
    if claims["exp"] <= now: raise ValueError("tracking link expired")
    order = load_order(conn, claims["order"])
    return {"order_id": order["id"], "status": order["status"]}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx becomes an HTTPError: the CDN cannot send the request elsewhere


def _download(url: str) -> bytes:
    with urllib.request.build_opener(_NoRedirects).open(url, timeout=10) as response:
        return response.read(MAX_LOGO_BYTES + 1)


def fetch_logo(url: str) -> bytes:
    """A restaurant's logo from the URL its manager gives, which must be on our image CDN."""
    if urlsplit(url).scheme != "https": raise ValueError("logos are fetched over https")
    if urlsplit(url).hostname not in LOGO_HOSTS: raise ValueError("logos must be hosted on the image CDN")
    data = _download(url)
    if len(data) > MAX_LOGO_BYTES: raise ValueError("logo too large")
    if not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")): raise ValueError("logo must be a PNG or JPEG")
    return data
