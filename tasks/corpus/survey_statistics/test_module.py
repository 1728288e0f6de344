import pytest

import module as m


def test_mean():
    assert m.mean([1, 2, 3, 4]) == 2.5
    assert m.mean([1, 2]) == 1.5
    assert m.mean([5]) == 5.0
    assert m.mean([-2, 2]) == 0.0
    with pytest.raises(ValueError):
        m.mean([])


def test_median_odd_and_even():
    assert m.median([3, 1, 2]) == 2
    assert m.median([4, 1, 3, 2]) == 2.5
    assert m.median([1, 10, 2, 9]) == 5.5
    assert m.median([1, 2]) == 1.5
    assert m.median([5]) == 5
    with pytest.raises(ValueError):
        m.median([])


def test_percentile_interpolates():
    values = [50, 15, 40, 20, 35]
    assert m.percentile(values, 0) == 15
    assert m.percentile(values, 100) == 50
    assert m.percentile(values, 50) == 35
    assert m.percentile(values, 25) == 20
    assert m.percentile(values, 40) == pytest.approx(29.0)
    assert m.percentile(values, 90) == pytest.approx(46.0)
    assert m.percentile([7], 50) == 7
    assert m.percentile([1, 2], 50) == 1.5


def test_sample_variance():
    assert m.sample_variance([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(32 / 7)
    assert m.sample_variance([1, 2]) == 0.5
    assert m.sample_variance([1, 2, 3]) == 1.0
    assert m.sample_variance([5]) == 0.0
    assert m.sample_variance([]) == 0.0


def test_mode():
    assert m.mode([3, 1, 3, 2, 1]) == 1
    assert m.mode([5, 5, 4]) == 5
    assert m.mode([4, 5, 5]) == 5
    assert m.mode([2]) == 2
    assert m.mode([]) is None


def test_histogram_edges():
    values = [11, 0, -1, 1, 2.5, 5, 7.5, 10]
    assert m.histogram(values, 0, 10, 4) == [2, 1, 1, 2]
    assert m.histogram([], 0, 10, 3) == [0, 0, 0]
    assert m.histogram([2.4, 2.6], 0, 10, 4) == [1, 1, 0, 0]
    assert m.histogram([1, 2, 3, 4, 5], 1, 5, 2) == [2, 3]
    assert m.histogram([9.99], 0, 10, 1) == [1]


def test_top_box_share():
    ratings = [5, 4, 3, 2, 1, 5]
    assert m.top_box_share(ratings) == 0.5
    assert m.top_box_share(ratings, box=1) == 2 / 6
    assert m.top_box_share([7, 6, 5], scale=7) == 2 / 3
    assert m.top_box_share([3, 3]) == 0.0
    assert m.top_box_share([]) == 0.0


def test_net_promoter_score():
    assert m.net_promoter_score([10, 9, 8, 7, 6, 0]) == 0
    assert m.net_promoter_score([10, 10, 9, 6]) == 50
    assert m.net_promoter_score([10, 6, 6]) == -33
    assert m.net_promoter_score([9, 9, 9, 8]) == 75
    assert m.net_promoter_score([7, 8]) == 0
    assert m.net_promoter_score([6]) == -100
    assert m.net_promoter_score([]) == 0


def test_complete_responses():
    responses = [{"q1": 1, "q2": 2}, {"q1": 1}, {"q1": "", "q2": 3}, {"q1": 0, "q2": 0}]
    assert m.complete_responses(responses, ["q1", "q2"]) == [responses[0], responses[3]]
    assert m.complete_responses(responses, ["q2"]) == [responses[0], responses[2], responses[3]]
    assert m.complete_responses(responses, []) == responses
    assert m.complete_responses([], ["q1"]) == []


def test_complete_responses_pools_into_given_list():
    pooled = [{"wave": 1}]
    result = m.complete_responses([{"q": 1}, {"q": None}], ["q"], pooled)
    assert result is pooled
    assert pooled == [{"wave": 1}, {"q": 1}]


def test_complete_responses_default_list_is_fresh_each_call():
    assert m.complete_responses([{"q": 1}], ["q"]) == [{"q": 1}]
    assert m.complete_responses([{"q": 2}], ["q"]) == [{"q": 2}]


def test_crosstab():
    responses = [{"region": "north", "likes": "yes"}, {"region": "south", "likes": "no"},
                 {"region": "north", "likes": "yes"}, {"region": "north", "likes": "no"}]
    assert m.crosstab(responses, "region", "likes") == {
        "north": {"yes": 2, "no": 1}, "south": {"no": 1}}
    assert m.crosstab(responses, "likes", "region") == {
        "yes": {"north": 2}, "no": {"south": 1, "north": 1}}
    assert m.crosstab([], "a", "b") == {}


def test_moving_average():
    assert m.moving_average([1, 2, 3, 4, 5], 2) == [1.5, 2.5, 3.5, 4.5]
    assert m.moving_average([1, 2, 3, 4, 5], 5) == [3.0]
    assert m.moving_average([1, 2, 3], 4) == []
    assert m.moving_average([4, 8], 1) == [4.0, 8.0]
    assert m.moving_average([3, 6, 9], 3) == [6.0]
