"""API route patterns: validation, segment matching and precedence between matching routes."""

from __future__ import annotations

import pytest

from entitle.domain.errors import BadUserInput
from entitle.domain.model import ApiRoute, RoutePolicy
from entitle.domain.routes import CompiledRoutes, match_route, validate_route
from tests.unit.builders import route

ALLOW, DENY = RoutePolicy.ALLOW, RoutePolicy.DENY


@pytest.mark.parametrize(
    ("method", "pattern"),
    [
        pytest.param("GET", "/", id="the_root"),
        pytest.param("get", "/api/v1/reports", id="a_lowercase_method_and_literals"),
        pytest.param("*", "/api/{version}/reports/{id}", id="any_method_with_params"),
        pytest.param("PATCH", "/api/*/items", id="a_star_segment"),
        pytest.param("DELETE", "/api/**", id="a_final_double_star"),
        pytest.param("PROPFIND", "/dav/{path}", id="an_extension_method"),
        pytest.param("GET", "/files/report.v2-final_x~", id="literal_punctuation"),
    ],
)
def test_a_well_formed_route_is_accepted(method: str, pattern: str) -> None:
    validate_route(method, pattern)


@pytest.mark.parametrize(
    ("method", "pattern", "field"),
    [
        pytest.param("", "/api", "method", id="an_empty_method"),
        pytest.param("GET POST", "/api", "method", id="a_method_with_a_space"),
        pytest.param("GET", "api/v1", "pathPattern", id="a_pattern_without_a_leading_slash"),
        pytest.param("GET", "/api/**/items", "pathPattern", id="a_double_star_before_the_end"),
        pytest.param("GET", "/api/{id", "pathPattern", id="an_unclosed_param"),
        pytest.param("GET", "/api/{}", "pathPattern", id="an_empty_param_name"),
        pytest.param("GET", "/api/{1st}", "pathPattern", id="a_param_name_starting_with_a_digit"),
        pytest.param("GET", "/api/x{id}", "pathPattern", id="a_param_inside_a_literal"),
        pytest.param("GET", "/api/{id}/{id}", "pathPattern", id="a_repeated_param"),
        pytest.param("GET", "/api//items", "pathPattern", id="an_empty_segment"),
        pytest.param("GET", "/api/items*", "pathPattern", id="a_star_inside_a_literal"),
        pytest.param("GET", "/api?x=1", "pathPattern", id="a_query_string"),
    ],
)
def test_a_malformed_route_is_rejected_naming_the_field(method: str, pattern: str, field: str) -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_route(method, pattern)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        pytest.param("/api/v1/reports", "/api/v1/reports", True, id="literals_match_exactly"),
        pytest.param("/api/v1/reports", "/api/v1/Reports", False, id="literals_are_case_sensitive"),
        pytest.param("/api/v1/reports", "/api/v1", False, id="a_shorter_path_does_not_match"),
        pytest.param("/api/v1/reports", "/api/v1/reports/7", False, id="a_longer_path_does_not_match"),
        pytest.param("/items/{id}", "/items/42", True, id="a_param_matches_one_segment"),
        pytest.param("/items/{id}", "/items/42/parts", False, id="a_param_does_not_match_two_segments"),
        pytest.param("/items/{id}", "/items", False, id="a_param_does_not_match_zero_segments"),
        pytest.param(
            "/items/{id}/parts", "/items//parts", False, id="a_param_does_not_match_an_empty_segment"
        ),
        pytest.param("/items/*/parts", "/items/42/parts", True, id="a_star_matches_one_segment"),
        pytest.param("/files/**", "/files", True, id="a_double_star_matches_zero_segments"),
        pytest.param("/files/**", "/files/a", True, id="a_double_star_matches_one_segment"),
        pytest.param("/files/**", "/files/a/b/c.txt", True, id="a_double_star_matches_the_rest"),
        pytest.param("/files/**", "/filesystem", False, id="a_double_star_needs_the_prefix_segments"),
        pytest.param("/**", "/", True, id="the_catch_all_matches_the_root"),
        pytest.param("/", "/", True, id="the_root_matches_the_root"),
        pytest.param("/", "/a", False, id="the_root_does_not_match_a_segment"),
        pytest.param("/api/reports", "/api/reports?from=2025-01-01", True, id="the_query_string_is_ignored"),
        pytest.param("/api/reports", "/api/reports/", True, id="a_trailing_slash_is_ignored"),
        pytest.param("/api/reports", "/api/reports/?page=2", True, id="trailing_slash_and_query_are_ignored"),
        pytest.param("/", "/?q=1", True, id="the_root_with_a_query_stays_the_root"),
        pytest.param("/api/reports/", "/api/reports", True, id="a_trailing_slash_in_the_pattern_is_ignored"),
    ],
)
def test_path_matching(pattern: str, path: str, matches: bool) -> None:
    found = match_route([route(1, "GET", pattern)], "GET", path)
    assert (found is not None) is matches


@pytest.mark.parametrize(
    ("route_method", "method", "matches"),
    [
        pytest.param("GET", "GET", True, id="same_method"),
        pytest.param("GET", "get", True, id="the_request_method_is_case_insensitive"),
        pytest.param("post", "POST", True, id="the_route_method_is_case_insensitive"),
        pytest.param("GET", "POST", False, id="another_method_does_not_match"),
        pytest.param("*", "DELETE", True, id="a_star_method_matches_any_method"),
    ],
)
def test_method_matching(route_method: str, method: str, matches: bool) -> None:
    found = match_route([route(1, route_method, "/api")], method, "/api")
    assert (found is not None) is matches


@pytest.mark.parametrize(
    ("routes", "winner_id"),
    [
        pytest.param(
            [route(1, "GET", "/api/**"), route(2, "GET", "/api/reports/{id}", priority=10)],
            2,
            id="the_highest_priority_wins",
        ),
        pytest.param(
            [route(1, "GET", "/api/reports/{id}", priority=-1), route(2, "GET", "/api/**")],
            2,
            id="priority_beats_literal_count",
        ),
        pytest.param(
            [route(1, "GET", "/api/{x}/{id}"), route(2, "GET", "/api/reports/{id}")],
            2,
            id="on_a_priority_tie_more_literal_segments_win",
        ),
        pytest.param(
            [route(1, "GET", "/api/**"), route(2, "GET", "/api/reports/**")],
            2,
            id="a_double_star_is_not_a_literal",
        ),
        pytest.param(
            [route(1, "GET", "/api/reports/{id}"), route(2, "*", "/api/reports/*", DENY)],
            2,
            id="on_a_full_tie_deny_wins_over_allow",
        ),
        pytest.param(
            [route(1, "GET", "/api/reports/{id}", DENY), route(2, "GET", "/api/{x}/{id}", DENY, priority=1)],
            2,
            id="deny_does_not_beat_a_higher_priority",
        ),
        pytest.param(
            [route(7, "GET", "/api/reports/{id}"), route(3, "GET", "/api/reports/*")],
            3,
            id="then_the_lower_id_wins",
        ),
    ],
)
def test_route_precedence(routes: list[ApiRoute], winner_id: int) -> None:
    found = match_route(routes, "GET", "/api/reports/42")
    assert found is not None
    assert found.id == winner_id


def test_no_matching_route_gives_none() -> None:
    assert match_route([route(1, "GET", "/api/reports")], "GET", "/api/users") is None
    assert match_route([], "GET", "/") is None


def test_compiled_routes_skip_a_stored_pattern_that_does_not_parse() -> None:
    # given a row that was written before validation existed
    compiled = CompiledRoutes([route(1, "GET", "no-slash"), route(2, "GET", "/ok")])
    # then
    assert len(compiled) == 1
    assert compiled.match("GET", "/ok") is not None
