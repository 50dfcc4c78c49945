"""The portal's fixtures (tests/web/conftest.py) for the reliability tests of the API."""

from tests.web.conftest import (  # noqa: F401  (re-exported fixtures)
    api,
    app,
    applied,
    client,
    clock,
    plan_file,
    settings,
    tokens,
)
