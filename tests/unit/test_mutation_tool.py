"""tools/mutation.py turns mutmut's results into a score per core module (a hand-made
results text here; the real run is `python3 dev.py mutate`)."""

from __future__ import annotations

from tools.mutation import explained_survivors, module_of, not_killed, render, scores

RESULTS = """\
    bot.router.x_route__mutmut_1: killed
    bot.router.x_route__mutmut_2: killed
    bot.router.x_route__mutmut_3: survived
    bot.router.xǁDecisionǁas_json__mutmut_1: no tests
    bot.store.claims.xǁRedisClaimsǁclaim__mutmut_1: killed
    bot.store.claims.xǁRedisClaimsǁclaim__mutmut_2: timeout
    bot.store.claims.xǁRedisClaimsǁclaim__mutmut_3: not checked
    bot.routing_table.x_routing_table__mutmut_1: survived
    env_manager.x_is_placeholder__mutmut_1: survived
"""
SURVIVORS = """\
# Mutants that survive on purpose

- `bot.router.x_route__mutmut_3`: equivalent, the loop ends either way
* `env_manager.x_is_placeholder__mutmut_1` — harmless: a log wording
A line that is not a list item is ignored.
"""


def test_each_mutant_belongs_to_its_module_and_lookalikes_do_not() -> None:
    assert module_of("bot.router.x_route__mutmut_1") == "router"
    assert module_of("bot.store.claims.xǁRedisClaimsǁclaim__mutmut_2") == "claims"
    assert module_of("env_manager.x_is_placeholder__mutmut_1") == "settings"
    assert module_of("bot.routing_table.x_routing_table__mutmut_1") is None


def test_listed_survivors_are_read_with_their_reason() -> None:
    assert explained_survivors(SURVIVORS) == {
        "bot.router.x_route__mutmut_3": "equivalent, the loop ends either way",
        "env_manager.x_is_placeholder__mutmut_1": "harmless: a log wording",
    }


def test_scores_count_killed_and_timeouts_over_checked_mutants() -> None:
    found = scores(RESULTS, explained_survivors(SURVIVORS), ["router", "claims", "settings"])
    router, claims, settings = found["router"], found["claims"], found["settings"]
    assert (router.total, router.killed, router.survivors, router.explained) == (
        4,
        2,
        ["bot.router.xǁDecisionǁas_json__mutmut_1"],
        ["bot.router.x_route__mutmut_3"],
    )
    assert router.score(excusing=False) == 0.5
    assert router.score(excusing=True) == 2 / 3
    assert (claims.total, claims.killed, claims.score(excusing=False)) == (2, 2, 1.0)
    assert (settings.total, settings.killed, settings.score(excusing=True)) == (1, 0, 1.0)
    assert render(found).splitlines()[1:] == [
        "router            4       2         1         1  50.0%   66.7%",
        "claims            2       2         0         0  100.0%  100.0%",
        "settings          1       0         1         0   0.0%  100.0%",
    ]


def test_again_re_tests_only_what_no_test_killed_and_nobody_kept() -> None:
    kept = explained_survivors(SURVIVORS)
    assert not_killed(RESULTS, ["router", "settings"], kept) == [
        "bot.router.xǁDecisionǁas_json__mutmut_1",
    ]
    assert not_killed(RESULTS, ["router", "settings"], {}) == [
        "bot.router.x_route__mutmut_3",
        "bot.router.xǁDecisionǁas_json__mutmut_1",
        "env_manager.x_is_placeholder__mutmut_1",
    ]
    assert not_killed(RESULTS, ["claims"], kept) == [
        "bot.store.claims.xǁRedisClaimsǁclaim__mutmut_3"
    ]
