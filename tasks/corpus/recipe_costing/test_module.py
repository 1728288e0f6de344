from datetime import date
from decimal import Decimal as D

import pytest

import module as m

ON = date(2024, 5, 15)
INGREDIENTS = {
    "flour": m.Ingredient("flour", allergens=frozenset({"gluten"}), traces=frozenset({"sesame", "nuts", "eggs"})),
    "eggs": m.Ingredient("eggs", allergens=frozenset({"eggs"})),
    "milk": m.Ingredient("milk", allergens=frozenset({"milk"})),
    "butter": m.Ingredient("butter", allergens=frozenset({"milk"}), traces=frozenset({"soybeans"})),
    "salmon": m.Ingredient("salmon", yield_percent=60, allergens=frozenset({"fish"}), traces=frozenset({"crustaceans"})),
    "potatoes": m.Ingredient("potatoes", yield_percent=80),
}
OFFERS = [
    m.Offer("Old Mill", "flour", D(25), "kg", D("10.00"), date(2024, 4, 30)),
    m.Offer("Cash & Carry", "flour", D(1), "kg", D("0.95"), date(2024, 12, 31)),
    m.Offer("Mill & Co", "flour", D(25), "kg", D("18.75"), date(2024, 6, 30)),
    m.Offer("Farm Fresh", "eggs", D(30), "pc", D("7.50"), date(2024, 5, 15)),
    m.Offer("Hen House", "eggs", D(12), "pc", D("3.00"), date(2024, 5, 31)),
    m.Offer("Dairy Direct", "milk", D(1), "l", D("1.10"), date(2024, 12, 31)),
    m.Offer("Dairy Direct", "butter", D(250), "g", D("2.40"), date(2024, 12, 31)),
    m.Offer("Fish Market", "salmon", D(1), "kg", D("24.00"), date(2024, 5, 31)),
    m.Offer("Veg Co", "potatoes", D(10), "kg", D("8.00"), date(2024, 5, 31)),
]
CREPES = m.Recipe("Crêpes", 4, (m.Line("flour", D(250), "g"), m.Line("eggs", D(3), "pc"),
                                m.Line("milk", D("0.5"), "l"), m.Line("butter", D(50), "g")))


def test_to_base_converts_kitchen_units():
    assert m.to_base(D("1.5"), "kg") == (D(1500), "g")
    assert m.to_base(D(250), "mg") == (D("0.25"), "g")
    assert m.to_base(D(2), "tbsp") == (D(30), "ml")
    assert m.to_base(D(3), "dl") == (D(300), "ml")
    assert m.to_base(D(4), "pc") == (D(4), "pc")
    with pytest.raises(ValueError):
        m.to_base(D(1), "cup")


def test_convert_within_mass_or_volume_only():
    assert m.convert(D(750), "g", "kg") == D("0.75")
    assert m.convert(D(2), "l", "cl") == D(200)
    assert m.convert(D(3), "tsp", "ml") == D(15)
    assert m.convert(D(45), "ml", "tbsp") == D(3)
    with pytest.raises(ValueError):
        m.convert(D(100), "g", "ml")
    with pytest.raises(ValueError):
        m.convert(D(100), "g", "oz")


def test_scale_recipe_up_rounds_pieces_up():
    scaled = m.scale_recipe(CREPES, 10)
    assert scaled.portions == 10 and scaled.name == "Crêpes"
    assert [(line.ingredient, line.quantity, line.unit) for line in scaled.lines] == [
        ("flour", D(625), "g"), ("eggs", D(8), "pc"), ("milk", D("1.25"), "l"), ("butter", D(125), "g")]
    assert CREPES.lines[1].quantity == 3 and CREPES.portions == 4


def test_scale_recipe_down_and_refusals():
    scaled = m.scale_recipe(CREPES, 2)
    assert [line.quantity for line in scaled.lines] == [D(125), D(2), D("0.25"), D(25)]
    assert m.scale_recipe(CREPES, 4).lines == CREPES.lines
    with pytest.raises(ValueError):
        m.scale_recipe(CREPES, 0)


def test_purchased_quantity_covers_trim_loss():
    assert m.purchased_quantity(D(400), 80) == D(500)
    assert m.purchased_quantity(D(300), 60) == D(500)
    assert m.purchased_quantity(D(300), 100) == D(300)
    assert m.purchased_quantity(D(1), 1) == D(100)
    assert m.purchased_quantity(D(100), 30) > D("333.3")
    for bad in (0, 101, -5):
        with pytest.raises(ValueError):
            m.purchased_quantity(D(100), bad)


def test_best_offer_is_the_cheapest_still_valid():
    assert m.best_offer(OFFERS, "flour", ON) == (D("0.00075"), "g", "Mill & Co")
    assert m.best_offer(OFFERS, "flour", date(2024, 7, 1)) == (D("0.00095"), "g", "Cash & Carry")
    assert m.best_offer(OFFERS, "flour", date(2024, 4, 30)) == (D("0.0004"), "g", "Old Mill")
    assert m.best_offer(OFFERS, "eggs", ON) == (D("0.25"), "pc", "Farm Fresh")
    assert m.best_offer(OFFERS, "milk", ON) == (D("0.0011"), "ml", "Dairy Direct")
    assert m.best_offer(OFFERS, "eggs", date(2024, 5, 16)) == (D("0.25"), "pc", "Hen House")
    with pytest.raises(LookupError):
        m.best_offer(OFFERS, "eggs", date(2024, 6, 1))
    with pytest.raises(LookupError):
        m.best_offer(OFFERS, "saffron", ON)


def test_line_cost_buys_for_the_yield():
    assert m.line_cost(m.Line("flour", D(250), "g"), INGREDIENTS["flour"], OFFERS, ON) == (D("0.1875"), "Mill & Co")
    assert m.line_cost(m.Line("salmon", D("0.3"), "kg"), INGREDIENTS["salmon"], OFFERS, ON) == (D("12.00"), "Fish Market")
    assert m.line_cost(m.Line("potatoes", D(400), "g"), INGREDIENTS["potatoes"], OFFERS, ON)[0] == D("0.4")
    with pytest.raises(ValueError):
        m.line_cost(m.Line("milk", D(500), "g"), INGREDIENTS["milk"], OFFERS, ON)


def test_portions_from_batch_after_cooking_loss():
    assert m.portions_from_batch(D(2000), 30, D(180)) == 7
    assert m.portions_from_batch(D(2000), 30, D(200)) == 7
    assert m.portions_from_batch(D(2000), 0, D(250)) == 8
    assert m.portions_from_batch(D(1000), 25, D(300)) == 2
    assert m.portions_from_batch(D(100), 10, D(120)) == 0


def test_round_up_to_step():
    assert m.round_up_to_step(D("2.156")) == D("2.20")
    assert m.round_up_to_step(D("2.15")) == D("2.15")
    assert m.round_up_to_step(D("2.151")) == D("2.20")
    assert m.round_up_to_step(D("9.96")) == D("10.00")
    assert m.round_up_to_step(D("10.00")) == D("10.00")
    assert m.round_up_to_step(D("10.01")) == D("10.10")
    assert m.round_up_to_step(D("12.34")) == D("12.40")


def test_menu_price():
    assert m.menu_price(D("0.49"), 25, 10) == D("2.20")
    assert m.menu_price(D("3.10"), 28, 7) == D("11.90")
    assert m.menu_price(D("1.00"), 50, 0) == D("2.00")
    assert m.menu_price(D("2.00"), 20, 0) == D("10.00")
    for bad in (0, 100):
        with pytest.raises(ValueError):
            m.menu_price(D("1.00"), bad, 10)


def test_food_cost_percent_on_the_net_price():
    assert m.food_cost_percent(D("0.49"), D("2.20"), 10) == D("24.5")
    assert m.food_cost_percent(D("0.37"), D("4.00"), 0) == D("9.3")
    assert m.food_cost_percent(D("1.00"), D("3.00"), 0) == D("33.3")
    assert m.food_cost_percent(D("3.00"), D("12.00"), 20) == D("30.0")


def test_declared_allergens_in_eu_order_without_contained_traces():
    contains, traces = m.declared_allergens(CREPES, INGREDIENTS)
    assert contains == ["gluten", "eggs", "milk"]
    assert traces == ["soybeans", "nuts", "sesame"]
    fish = m.Recipe("Salmon", 2, (m.Line("salmon", D(300), "g"), m.Line("potatoes", D(400), "g")))
    assert m.declared_allergens(fish, INGREDIENTS) == (["fish"], ["crustaceans"])
    odd = {"flour": m.Ingredient("flour", allergens=frozenset({"gluten", "kiwi"}))}
    with pytest.raises(ValueError):
        m.declared_allergens(m.Recipe("Bread", 1, (m.Line("flour", D(500), "g"),)), odd)


def test_costing_sheet():
    sheet = m.costing_sheet(CREPES, INGREDIENTS, OFFERS, ON, target_percent=25, vat_percent=10)
    assert sheet == {
        "dish": "Crêpes", "batch_cost": D("1.97"), "portion_cost": D("0.49"),
        "suppliers": {"flour": "Mill & Co", "eggs": "Farm Fresh", "milk": "Dairy Direct", "butter": "Dairy Direct"},
        "menu_price": D("2.20"), "food_cost_percent": D("24.5"),
        "contains": ["gluten", "eggs", "milk"], "may_contain": ["soybeans", "nuts", "sesame"],
    }


def test_costing_sheet_rounds_the_portion_half_up():
    fish = m.Recipe("Salmon", 3, (m.Line("salmon", D(150), "g"), m.Line("potatoes", D(300), "g")))
    sheet = m.costing_sheet(fish, INGREDIENTS, OFFERS, ON, target_percent=30, vat_percent=10)
    assert sheet["batch_cost"] == D("6.30")
    assert sheet["portion_cost"] == D("2.10")
    assert sheet["menu_price"] == D("7.70")
    assert sheet["food_cost_percent"] == D("30.0")
    half = m.Recipe("Devilled egg", 2, (m.Line("eggs", D(1), "pc"),))
    assert m.costing_sheet(half, INGREDIENTS, OFFERS, ON, 25, 0)["portion_cost"] == D("0.13")
    with pytest.raises(ValueError):
        m.costing_sheet(m.Recipe("Air", 1, ()), INGREDIENTS, OFFERS, ON, 30, 10)
