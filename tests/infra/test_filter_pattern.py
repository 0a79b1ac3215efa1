"""The JSON filter pattern evaluator the log-signal tests rely on, held to CloudWatch's rules."""

from __future__ import annotations

import pytest
from support.filter_pattern import JsonFilterPattern

PATTERN = '{ $.logger = "hokusai.discovery" && $.msg = "fallback active" }'


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        ('{"logger": "hokusai.discovery", "msg": "fallback active", "level": "WARNING"}', True),
        ('{"logger": "hokusai.discovery", "msg": "fallback active: NXDOMAIN"}', False),
        ('{"logger": "hokusai.discovery", "msg": "Fallback Active"}', False),
        ('{"logger": "hokusai.proxy", "msg": "fallback active"}', False),
        ('{"msg": "fallback active"}', False),
        ('{"logger": "hokusai.discovery", "msg": 1}', False),
        ('["hokusai.discovery", "fallback active"]', False),
        ("hokusai.discovery fallback active", False),
    ],
)
def test_every_term_must_equal_a_string_value_exactly(event: str, matches: bool) -> None:
    assert JsonFilterPattern.parse(PATTERN).matches(event) is matches


def test_paths_reach_into_nested_objects_and_quotes_unescape() -> None:
    pattern = JsonFilterPattern.parse('{ $.error.kind = "say \\"no\\"" }')

    assert pattern.matches('{"error": {"kind": "say \\"no\\""}}')
    assert not pattern.matches('{"error": "say \\"no\\""}')


@pytest.mark.parametrize(
    "pattern",
    [
        '"fallback active"',
        '{ $.msg = "fallback*" }',
        '{ $.msg != "x" }',
        '{ $.msg = "a" || $.msg = "b" }',
        "{ $.status = 500 }",
        '{ $.msg = "a" && }',
        '{ $.items[0] = "a" }',
    ],
)
def test_a_pattern_outside_the_subset_is_refused_not_misread(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"pattern|subset"):
        JsonFilterPattern.parse(pattern)
