import module as m


def test_progressive_tax_zero_and_first_bracket():
    assert m.progressive_tax(0) == 0
    assert m.progressive_tax(50_000) == 0
    assert m.progressive_tax(100_000) == 0


def test_progressive_tax_second_bracket():
    assert m.progressive_tax(150_000) == 5_000
    assert m.progressive_tax(400_000) == 30_000
    assert m.progressive_tax(100_015) == 1
    assert m.progressive_tax(100_009) == 0
    assert isinstance(m.progressive_tax(100_015), int)


def test_progressive_tax_third_bracket():
    assert m.progressive_tax(500_000) == 50_000
    assert m.progressive_tax(900_000) == 130_000


def test_progressive_tax_top_bracket():
    assert m.progressive_tax(1_000_000) == 165_000
    assert m.progressive_tax(900_100) == 130_035


def test_pension_contribution():
    assert m.pension_contribution(300_000, 5) == 15_000
    assert m.pension_contribution(333_333, 5) == 16_666
    assert isinstance(m.pension_contribution(333_333, 5), int)
    assert m.pension_contribution(1_000_000, 5) == 50_000
    assert m.pension_contribution(2_000_000, 5) == 50_000
    assert m.pension_contribution(300_000, 0) == 0


def test_overtime_pay():
    assert m.overtime_pay(30, 2_000) == 60_000
    assert m.overtime_pay(40, 2_000) == 80_000
    assert m.overtime_pay(45, 2_000) == 95_000
    assert m.overtime_pay(40.5, 2_000) == 81_500
    assert m.overtime_pay(45, 2_000, multiplier=2) == 100_000
    assert m.overtime_pay(0, 2_000) == 0


def test_prorated_salary():
    assert m.prorated_salary(300_000, 30, 30) == 300_000
    assert m.prorated_salary(300_000, 31, 30) == 300_000
    assert m.prorated_salary(300_000, 15, 30) == 150_000
    assert m.prorated_salary(310_030, 10, 31) == 100_009
    assert isinstance(m.prorated_salary(310_030, 10, 31), int)
    assert m.prorated_salary(300_000, 29, 30) == 290_000
    assert m.prorated_salary(300_000, 0, 30) == 0


def test_build_payslip_keys():
    slip = m.build_payslip("ann", 500_000, 4, 7_500)
    assert slip.employee == "ann"
    assert slip.gross == 500_000
    assert slip.deductions == {"tax": 50_000, "pension": 20_000, "health": 7_500}


def test_payslips_do_not_share_deductions():
    first = m.Payslip("a", 10)
    first.deductions["tax"] = 1
    assert m.Payslip("b", 10).deductions == {}


def test_net_pay():
    slip = m.build_payslip("ann", 500_000, 4, 7_500)
    assert m.net_pay(slip) == 422_500
    assert m.net_pay(m.Payslip("bob", 123_456)) == 123_456


def test_garnishments_partial():
    assert m.apply_garnishments(200_000, [50_000, 40_000]) == (120_000, [50_000, 30_000])
    assert m.apply_garnishments(200_000, [90_000, 10_000]) == (120_000, [80_000, 0])
    assert m.apply_garnishments(200_000, [10_000, 20_000]) == (170_000, [10_000, 20_000])


def test_garnishments_protected_floor():
    assert m.apply_garnishments(120_000, [5_000]) == (120_000, [0])
    assert m.apply_garnishments(100_000, [5_000, 1]) == (100_000, [0, 0])
    assert m.apply_garnishments(120_001, [5_000]) == (120_000, [1])


def test_garnishments_default_path_twice():
    assert m.apply_garnishments(150_000) == (150_000, [])
    assert m.apply_garnishments(150_000) == (150_000, [])


def test_year_to_date():
    slips = [m.build_payslip("ann", 500_000, 4, 100), m.build_payslip("ann", 150_000, 10, 100)]
    assert m.year_to_date(slips) == {"gross": 650_000, "tax": 55_000, "pension": 35_000}
    assert m.year_to_date([]) == {"gross": 0, "tax": 0, "pension": 0}
    only_gross = m.year_to_date([m.Payslip("x", 1_000)])
    assert only_gross == {"gross": 1_000, "tax": 0, "pension": 0}


def test_average_net():
    assert m.average_net([]) == 0.0
    slips = [m.Payslip("a", 1_000), m.Payslip("b", 1_001)]
    assert m.average_net(slips) == 1_000.5
    assert m.average_net([m.Payslip("a", 7)]) == 7.0


def test_first_over_budget():
    slips = [m.Payslip("a", 100), m.Payslip("b", 300), m.Payslip("c", 500)]
    assert m.first_over_budget(slips, 200) == "b"
    assert m.first_over_budget(slips, 300) == "c"
    assert m.first_over_budget(slips, 500) is None
    assert m.first_over_budget(slips, 50) == "a"
    assert m.first_over_budget([], 0) is None
