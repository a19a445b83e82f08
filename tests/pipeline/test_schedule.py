"""Pipeline schedules: presets and cron checked with plain messages, described in words, the next
runs stepped through; and (Airflow tier) the same next runs as croniter in the real Airflow venvs,
and the same refusals."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

from mlpipe_lab.pipeline.schedule import ScheduleError, describe_runs, parse

AFTER = dt.datetime(2026, 12, 7, 3, 30)  # a Monday


@pytest.mark.parametrize(
    "text, description, runs",
    [
        ("0 3 * * *", "At 03:00 UTC, every day", ["2026-12-08 03:00", "2026-12-09 03:00"]),
        ("*/15 * * * *", "Every 15 minutes", ["2026-12-07 03:45", "2026-12-07 04:00"]),
        (
            "0 */2 * * 1-5",
            "Every 2 hours, on the hour, on Monday to Friday",
            ["2026-12-07 04:00", "2026-12-07 06:00"],
        ),
        (
            "0 9 * * MON,WED,FRI",
            "At 09:00 UTC, on Monday, Wednesday and Friday",
            ["2026-12-07 09:00", "2026-12-09 09:00"],
        ),
        (
            "0 0 L * *",
            "At 00:00 UTC, on the last day of the month",
            ["2026-12-31 00:00", "2027-01-31 00:00"],
        ),
        (
            "0 0 13 * 5",  # cron: both day fields given means either
            "At 00:00 UTC, on day 13 of the month or on Friday",
            ["2026-12-11 00:00", "2026-12-13 00:00"],
        ),
        (
            "*/5 9-17 * * 1-5",
            "Every 5 minutes from 09:00 to 17:55 UTC, on Monday to Friday",
            ["2026-12-07 09:00", "2026-12-07 09:05"],
        ),
        ("0 0 29 2 *", "At 00:00 UTC, on day 29 of the month, in February", ["2028-02-29 00:00"]),
        ("@daily", "Every day at 00:00 UTC", ["2026-12-08 00:00", "2026-12-09 00:00"]),
        ("  0   3 * *  * ", "At 03:00 UTC, every day", ["2026-12-08 03:00"]),
        ("@once", "Once, as soon as the DAG is switched on", []),
        ("@annually", "Every year on January 1 at 00:00 UTC", ["2027-01-01 00:00"]),
        (
            "0 8 * * MON#2",
            "At 08:00 UTC, on the 2nd Monday of the month",
            ["2026-12-14 08:00", "2027-01-11 08:00"],
        ),
        (
            "0 8 15W * *",
            "At 08:00 UTC, on the weekday nearest day 15 of the month",
            ["2026-12-15 08:00", "2027-01-15 08:00", "2027-02-15 08:00", "2027-03-15 08:00"],
        ),
        (
            "0 22-2 * * *",
            "At 00:00, 01:00, 02:00, 22:00 and 23:00 UTC, every day",
            ["2026-12-07 22:00", "2026-12-07 23:00", "2026-12-08 00:00"],
        ),
    ],
)
def test_schedules_are_described_with_their_next_runs(text, description, runs):
    schedule = parse(text)
    assert schedule.description == description
    assert describe_runs(schedule, AFTER, len(runs)) == runs
    assert schedule.text == " ".join(text.split())


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_no_schedule_is_manual_runs_only(empty):
    assert parse(empty) is None


@pytest.mark.parametrize(
    "text, message",
    [
        # the three: prose, a misspelt preset, a cron that landed in the DAG
        ("every day at 3", "'every day at 3' is not a schedule. Use a preset (@hourly"),
        ("@dayly", "'@dayly' is not a schedule preset; did you mean @daily?"),
        ("61 25 * * *", "The minute must be from 0 to 59, not 61."),
        ("0 25 * * *", "The hour must be from 0 to 23, not 25."),
        ("@Daily", "did you mean @daily?"),
        ("0 0 * * MON#6", "the number after # says which one in the month: 1 to 5."),
        ("0 0 30 2 *", "'0 0 30 2 *' never runs: February has no day 30."),
        ("0 0 * * 1-9", "(0 and 7 are Sunday), not 9 (in '1-9')."),
        ("*/0 * * * *", "The step in '*/0' must be a whole number of at least 1"),
        ("0 0 * * * *", "has 6 fields; Airflow schedules have 5"),
        ("0 0 * * FOO", "'FOO' is not a valid day of the week: write a number or a day name"),
        ("? * * * *", "'?' is only for the day fields, not the minute."),
        (3, "The schedule must be text"),
    ],
)
def test_bad_schedules_say_what_is_expected(text, message):
    with pytest.raises(ScheduleError) as exc:
        parse(text)
    assert message in exc.value.message
    assert "Traceback" not in exc.value.message


# -- against Airflow's own cron library -------------------------------------------------------

CROSS = [
    "0 3 * * *",
    "*/15 * * * *",
    "0 */2 * * 1-5",
    "0 9 * * MON,WED,FRI",
    "0 0 L * *",
    "0 0 13 * 5",
    "*/5 9-17 * * 1-5",
    "0 0 29 2 *",
    "5/20 * * * *",
    "0 6 * JAN-MAR *",
    "30 23 28-31 * *",
    "0 12 * * 7",
    "15 1,13 1-7 * MON",
    "0 0 1 */3 *",
    "0 22-2 * * *",
    "10-5/20 * * * *",
    "0 8 * * MON#2",
    "0 0 * * 1#1,1#3",
    "0 0 L,15 * *",
    "0 8 31W * *",
    "@annually",
    "@midnight",
    "@hourly",
    "@weekly",
    "@quarterly",
    "@yearly",
]
REFUSED = [
    "61 25 * * *",
    "0 0 * * 8",
    "0 0 * * FOO",
    "*/0 * * * *",
    "0 0 32 * *",
    "0 0 1,15W * *",
    "0 0 * * 1#2,5",
    "0 0 1 * 1#2",
]

CRONITER = r"""
import datetime as dt, json, sys
from croniter import croniter
from airflow.utils.dates import cron_presets  # noqa: the presets Airflow maps
after = dt.datetime(2026, 12, 7, 3, 30)
out = {"runs": {}, "refused": {}}
for expr in json.loads(sys.argv[1]):
    it = croniter(cron_presets.get(expr, expr), after)
    out["runs"][expr] = [it.get_next(dt.datetime).strftime("%Y-%m-%d %H:%M") for _ in range(6)]
for expr in json.loads(sys.argv[2]):
    try:
        croniter(expr, after).get_next(dt.datetime)
        out["refused"][expr] = False
    except Exception:
        out["refused"][expr] = True
print(json.dumps(out))
"""


@pytest.mark.airflow
@pytest.mark.parametrize("version", ["3.3", "2.10"])
def test_next_runs_and_refusals_match_airflows_croniter(version):
    from fixture_paths import load_airflow_harness

    harness = load_airflow_harness()
    venv = harness.require_airflow(version)
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CRONITER, json.dumps(CROSS), json.dumps(REFUSED)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=harness._child_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    airflow = json.loads(proc.stdout.strip().splitlines()[-1])
    for expr in CROSS:
        assert describe_runs(parse(expr), AFTER, 6) == airflow["runs"][expr], expr
    for expr in REFUSED:
        assert airflow["refused"][expr], f"croniter accepts {expr!r}, which we refuse"
        with pytest.raises(ScheduleError):
            parse(expr)


# -- REST, CLI and validation: the same checker ---------------------------------------------


async def test_rest_describes_or_refuses_in_plain_words(jp_fetch):
    from openapi_check import check_response

    async def get(**query):
        response = await jp_fetch(
            "mlpipe-lab", "schedule", params=query, method="GET", raise_error=False
        )
        check_response("GET", "/schedule", response.code, response.body)
        return response.code, json.loads(response.body)

    code, body = await get(expression="0 3 * * 1-5", start_date="2030-01-01")
    assert code == 200 and body["schedule"] == "0 3 * * 1-5"
    assert body["description"] == "At 03:00 UTC, on Monday to Friday"
    assert body["next_runs"] == ["2030-01-01 03:00", "2030-01-02 03:00", "2030-01-03 03:00"]
    code, body = await get(expression="")
    assert code == 200 and body == {
        "schedule": None,
        "description": "No schedule: the DAG runs only when triggered.",
        "next_runs": [],
    }
    code, body = await get(expression="61 25 * * *")
    assert code == 400 and body["error"] == {
        "message": "The minute must be from 0 to 59, not 61.",
        "field": "schedule",
    }


def test_cli_schedule(capsys):
    from mlpipe_lab.cli import main

    assert main(["schedule", "@dayly"]) == 2
    assert "did you mean @daily?" in capsys.readouterr().err
    assert main(["schedule", "*/30 * * * *", "--start-date", "2031-05-01"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "*/30 * * * *: Every 30 minutes",
        "Next runs (UTC): 2031-05-01 00:00, 2031-05-01 00:30, 2031-05-01 01:00",
    ]


@pytest.mark.parametrize("bad", ["every day at 3", "@dayly", "61 25 * * *"])
def test_validate_and_export_refuse_the_schedule_by_its_field(bad, tmp_path):
    """Valid means exportable: validate reports what compile refuses, at mlpipe/schedule, and the
    DAG is never written with it (the issue's '61 25 * * *' used to land in it)."""
    import compile_corpus as cc

    from mlpipe_lab.compiler import export
    from mlpipe_lab.pipeline import PipelineError, validate

    doc = cc.pipeline(
        "p",
        [cc.node("a", "a.py")],
        defaults={"runtime_image": "python:3.11"},
        mlpipe={"schedule": bad},
    )
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "p.pipeline").write_text(json.dumps(doc))
    problems = [p for p in validate(json.dumps(doc), source="p.pipeline") if p.code == "schedule"]
    assert [(p.path, p.severity) for p in problems] == [("mlpipe/schedule", "error")]
    with pytest.raises(PipelineError) as exc:
        export(tmp_path / "p.pipeline", config=cc.CONFIG, images=cc.IMAGES)
    assert "schedule" in {p.code for p in exc.value.problems}
    assert not (tmp_path / "dags").exists()
