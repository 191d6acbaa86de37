"""The compiled model has exactly the keys its shapes (``site_model.shapes``) name."""

import typing

from ansible_collections.megapower.mpcpu.plugins.plugin_utils import site_model
from ansible_collections.megapower.mpcpu.plugins.plugin_utils.site_model import shapes


def _keys(shape):
    return set(typing.get_type_hints(shape))


def _model(make_inventory):
    model, errors, _warnings = site_model.assess_site(*make_inventory())
    assert not errors
    return model


def test_the_model_has_the_keys_of_its_shape(make_inventory):
    assert set(_model(make_inventory)) == _keys(shapes.Model)


def test_each_part_of_the_model_has_the_keys_of_its_shape(make_inventory):
    model = _model(make_inventory)
    parts = [
        (shapes.Network, model["networks"]),
        (shapes.Device, model["mpcpus"]),
        (shapes.PartHost, [host for hosts in model["parts"].values() for host in hosts]),
        (shapes.Router, model["routers"]),
        (shapes.Row, model["rows"]),
        (shapes.Flow, model["flows"]),
        (shapes.HostView, list(model["hosts"].values())),
    ]
    for shape, items in parts:
        assert items, shape.__name__
        for item in items:
            assert set(item) == _keys(shape), shape.__name__


def test_a_played_row_is_a_row_with_its_side(make_inventory):
    view = next(iter(_model(make_inventory)["hosts"].values()))
    for row in view["rows"]:
        assert set(row) == _keys(shapes.PlayedRow)


def test_the_view_of_a_host_the_site_lacks_has_the_shape_of_a_view(make_inventory):
    view = site_model.host_view(_model(make_inventory), "stranger", missing_ok=True)
    assert set(view) == _keys(shapes.HostView)
    assert (view["kind"], view["flows"], view["rows"]) == (None, [], [])
