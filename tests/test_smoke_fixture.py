from tests.conftest import World


def test_world_seeds_units_and_users(world: World) -> None:
    ctx = world.as_("cg")
    assert ctx.actor.role == "liaison"
    assert len(ctx.actor.unit_ids) == 2  # HX-CG and its sub-unit HX-CG-ZM
