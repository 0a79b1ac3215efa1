"""The whole suite's fixtures and helpers live in tests/support, one plugin registered here;
its asserts are rewritten so that a helper's failed assert reads like a test's."""

import pytest

pytest.register_assert_rewrite("support")

pytest_plugins = ["support.servers", "support.echo_upstream"]
