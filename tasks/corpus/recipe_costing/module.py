"""Recipe costing for a restaurant kitchen: recipes scaled to the portions needed, kitchen units
converted, ingredient cost from the suppliers' price lists, cost per portion, food-cost
percentage, menu prices and the allergens a dish must declare.

Rules (from the head chef's costing sheet):
* Quantities are kept in g, ml or pieces; mass and volume never convert into each other.
* A line gives the usable quantity; the kitchen buys usable * 100 / the ingredient's yield (the
  share left after trimming). Scaled pieces are rounded up: half an egg is an egg.
* An ingredient costs the cheapest offer still valid on the costing day, per g, ml or piece of
  its pack. Costs stay exact up to the portion cost, which is rounded half up to the cent.
* A batch gives as many whole portions as its weight after cooking loss holds.
* Menu price: the portion cost at the target food-cost percentage, plus VAT, rounded up to 0.05
  below 10.00 and to 0.10 from 10.00. Food cost is worked out on the net price, to 0.1 %.
* Allergens: the fourteen of the EU list, in its order; traces ("may contain") only of those
  the dish does not contain.
"""

from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# unit -> (base unit, how many base units it holds)
UNITS = {"g": ("g", Decimal(1)), "kg": ("g", Decimal(1000)), "mg": ("g", Decimal("0.001")),
         "ml": ("ml", Decimal(1)), "cl": ("ml", Decimal(10)), "dl": ("ml", Decimal(100)), "l": ("ml", Decimal(1000)),
         "tsp": ("ml", Decimal(5)), "tbsp": ("ml", Decimal(15)), "pc": ("pc", Decimal(1))}
ALLERGENS = ("gluten", "crustaceans", "eggs", "fish", "peanuts", "soybeans", "milk", "nuts", "celery",
             "mustard", "sesame", "sulphites", "lupin", "molluscs")
SMALL_STEP = Decimal("0.05")
LARGE_STEP = Decimal("0.10")
LARGE_FROM = Decimal(10)


@dataclass(frozen=True)
class Line:
    ingredient: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class Ingredient:
    name: str
    yield_percent: int = 100
    allergens: frozenset[str] = frozenset()
    traces: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Offer:
    supplier: str
    ingredient: str
    pack_quantity: Decimal
    pack_unit: str
    pack_price: Decimal
    valid_until: date


@dataclass(frozen=True)
class Recipe:
    name: str
    portions: int
    lines: tuple[Line, ...]


def to_base(quantity: Decimal, unit: str) -> tuple[Decimal, str]:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    base, factor = UNITS[unit]
    return quantity * factor, base


def convert(quantity: Decimal, unit: str, target: str) -> Decimal:
    amount, base = to_base(quantity, unit)
    if target not in UNITS or UNITS[target][0] != base:
        raise ValueError(f"cannot convert {unit} to {target}")
    return amount / UNITS[target][1]


def scale_recipe(recipe: Recipe, portions: int) -> Recipe:
    """The recipe for ``portions``; lines counted in pieces are rounded up to whole pieces."""
    if portions <= 0:
        raise ValueError("portions must be positive")
    factor = Decimal(portions) / recipe.portions
    lines = []
    for line in recipe.lines:
        quantity = line.quantity * factor
        if line.unit == "pc":
            quantity = quantity.to_integral_value(rounding=ROUND_CEILING)
        lines.append(replace(line, quantity=quantity))
    return replace(recipe, portions=portions, lines=tuple(lines))


def purchased_quantity(usable: Decimal, yield_percent: int) -> Decimal:
    """What must be bought to be left with ``usable`` after trimming."""
    if not 0 < yield_percent <= 100:
        raise ValueError("yield must be between 1 and 100 percent")
    return usable * 100 / yield_percent


def best_offer(offers: list[Offer], ingredient: str, on: date) -> tuple[Decimal, str, str]:
    """(price per base unit, base unit, supplier) of the cheapest offer still valid on ``on``;
    a tie goes to the offer listed first (the preferred supplier)."""
    best = None
    for offer in offers:
        if offer.ingredient != ingredient or offer.valid_until < on:
            continue
        amount, base = to_base(offer.pack_quantity, offer.pack_unit)
        price = offer.pack_price / amount
        if best is None or price < best[0]:
            best = (price, base, offer.supplier)
    if best is None:
        raise LookupError(f"no current price for {ingredient}")
    return best


def line_cost(line: Line, ingredient: Ingredient, offers: list[Offer], on: date) -> tuple[Decimal, str]:
    """Exact cost of a recipe line at the best current price, and the supplier it comes from."""
    usable, base = to_base(line.quantity, line.unit)
    price, priced_per, supplier = best_offer(offers, line.ingredient, on)
    if priced_per != base:
        raise ValueError(f"{line.ingredient} is priced per {priced_per} but used in {line.unit}")
    return purchased_quantity(usable, ingredient.yield_percent) * price, supplier


def portions_from_batch(raw_grams: Decimal, cooking_loss_percent: int, portion_grams: Decimal) -> int:
    """Whole portions in a batch once cooking has cost it ``cooking_loss_percent`` of its weight."""
    cooked = raw_grams * (100 - cooking_loss_percent) / 100
    return int(cooked // portion_grams)


def round_up_to_step(amount: Decimal) -> Decimal:
    step = SMALL_STEP if amount < LARGE_FROM else LARGE_STEP
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def menu_price(portion_cost: Decimal, target_percent: int, vat_percent: int) -> Decimal:
    """Gross menu price that keeps the food cost at ``target_percent`` of the net price."""
    if not 0 < target_percent < 100:
        raise ValueError("target food cost must be between 0 and 100 percent")
    net = portion_cost * 100 / target_percent
    return round_up_to_step(net * (100 + vat_percent) / 100)


def food_cost_percent(portion_cost: Decimal, gross_price: Decimal, vat_percent: int) -> Decimal:
    net = gross_price * 100 / (100 + vat_percent)
    return (portion_cost * 100 / net).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def declared_allergens(recipe: Recipe, ingredients: dict[str, Ingredient]) -> tuple[list[str], list[str]]:
    """(allergens the dish contains, allergens it may contain as traces), in the EU list's order."""
    contains: set[str] = set()
    traces: set[str] = set()
    for line in recipe.lines:
        contains |= ingredients[line.ingredient].allergens
        traces |= ingredients[line.ingredient].traces
    unknown = (contains | traces) - set(ALLERGENS)
    if unknown:
        raise ValueError(f"not an allergen of the EU list: {', '.join(sorted(unknown))}")
    return [a for a in ALLERGENS if a in contains], [a for a in ALLERGENS if a in traces - contains]


def costing_sheet(recipe: Recipe, ingredients: dict[str, Ingredient], offers: list[Offer], on: date,
                  target_percent: int, vat_percent: int) -> dict:
    """The costing of one dish: batch and portion cost, suppliers, menu price, food cost and allergens."""
    if not recipe.lines:
        raise ValueError(f"{recipe.name} has no ingredients")
    batch_cost = 0
    suppliers = {}
    for line in recipe.lines:
        cost, supplier = line_cost(line, ingredients[line.ingredient], offers, on)
        batch_cost += cost
        suppliers[line.ingredient] = supplier
    portion_cost = (batch_cost / recipe.portions).quantize(CENT, rounding=ROUND_HALF_UP)
    price = menu_price(portion_cost, target_percent, vat_percent)
    contains, traces = declared_allergens(recipe, ingredients)
    return {"dish": recipe.name, "batch_cost": batch_cost.quantize(CENT, rounding=ROUND_HALF_UP),
            "portion_cost": portion_cost, "suppliers": suppliers, "menu_price": price,
            "food_cost_percent": food_cost_percent(portion_cost, price, vat_percent),
            "contains": contains, "may_contain": traces}
