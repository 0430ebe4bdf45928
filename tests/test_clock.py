"""The test clock: `@pytest.mark.now` fixes "now" for one test, PORTAL_TEST_NOW moves the whole run's clock."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import RUN_NOW, instant, run_clock

PROJECT = Path(__file__).resolve().parent.parent


@pytest.mark.now("2026-03-15T12:00:00Z", tick=False)
def test_under_the_now_marker_django_python_and_time_read_the_fixed_instant():
    fixed = datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert timezone.now() == fixed and datetime.now(UTC) == fixed and time.time() == fixed.timestamp()
    assert timezone.localdate().isoformat() == "2026-03-15"


@pytest.mark.now("2028-02-29T12:00:00Z")
def test_a_ticking_marker_starts_at_its_instant_and_rows_made_by_fixtures_are_stamped_then(make_agency, clock):
    agency = make_agency()  # the marker's clock starts before every other fixture of the test
    assert instant("2028-02-29T12:00:00Z") <= agency.created_at <= timezone.now() < instant("2028-02-29T12:01:00Z")

    clock.shift(timedelta(days=1))
    assert timezone.localdate().isoformat() == "2028-03-01"


def test_the_runs_clock_is_the_one_portal_test_now_names(request):
    moved = run_clock(request.config)
    if os.environ.get(RUN_NOW):
        assert moved is not None, f"{RUN_NOW} is set but the run's clock was not moved"
        start, elapsed = moved
        # Started there and ticked no faster than real time since.
        assert start <= timezone.now() <= start + timedelta(seconds=elapsed + 1)
    else:
        assert moved is None and not time_machine.escape_hatch.is_travelling()


def test_portal_test_now_moves_a_whole_run_and_the_header_says_so():
    env = {**os.environ, RUN_NOW: "2027-01-01T00:00:30Z"}
    # Its own in-memory SQLite: a second run on the PostgreSQL pass's server would take the same test database.
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_the_runs_clock_is_the_one_portal_test_now_names",
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clock: moved, the run starts at 2027-01-01T00:00:30Z (PORTAL_TEST_NOW)" in result.stdout
    assert "1 passed" in result.stdout
