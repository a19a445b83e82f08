"""Pipeline schedules: Airflow's presets and 5-field cron expressions, checked, described in words
and stepped through (the next runs), with no dependency (the extension must not need croniter).

The checker accepts what Airflow's cron timetables accept, with the five fields Airflow describes
(it refuses to describe croniter's sixth "seconds" field): numbers, ``*``, ``?`` (day fields),
ranges ``a-b`` (wrapping around: ``22-2``), steps ``*/n``, ``a/n``, ``a-b/n``, lists, month and
weekday names (``JAN``, ``MON``), weekday 7 for Sunday, ``L`` (the last day of the month), ``15W``
(the weekday nearest the 15th) and ``MON#2`` (the second Monday). Times are UTC: the DAG's start
date is in UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
from dataclasses import dataclass

# Airflow's presets (airflow.utils.dates.cron_presets) and the two that are no cron at all.
PRESETS: dict[str, str | None] = {
    "@once": None,
    "@continuous": None,
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    # croniter's aliases, which Airflow passes on to it
    "@annually": "0 0 1 1 *",
    "@midnight": "0 0 * * *",
}
_PRESET_WORDS = {
    "@once": "Once, as soon as the DAG is switched on",
    "@continuous": "Continuously: a new run as soon as the previous one ends",
    "@hourly": "Every hour, on the hour",
    "@daily": "Every day at 00:00 UTC",
    "@weekly": "Every Sunday at 00:00 UTC",
    "@monthly": "On the first day of every month at 00:00 UTC",
    "@quarterly": "On the first day of January, April, July and October at 00:00 UTC",
    "@yearly": "Every year on January 1 at 00:00 UTC",
    "@annually": "Every year on January 1 at 00:00 UTC",
    "@midnight": "Every day at 00:00 UTC",
}

_MONTHS = [m.upper() for m in calendar.month_abbr[1:]]  # JAN..DEC
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_MONTH_NAMES = list(calendar.month_name[1:])
_DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True)
class _Field:
    name: str  # in messages: "minute", "hour", ...
    low: int
    high: int
    names: tuple[str, ...] = ()  # JAN.. or SUN.., numbered from ``low`` (weekdays from 0)


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of the month", 1, 31),
    _Field("month", 1, 12, tuple(_MONTHS)),
    _Field("day of the week", 0, 7, tuple(_DAYS)),
)
LAST = 32  # "L" in the day of the month: its last day

EXAMPLE = "'0 3 * * *' (every day at 03:00)"


class ScheduleError(ValueError):
    """A schedule that Airflow would refuse, or that never runs; ``message`` says what to write."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Schedule:
    """A checked schedule. ``text`` is what goes into the DAG (spaces normalised)."""

    text: str
    description: str
    # minute, hour, day of month, month, day of week (0 = Sunday) as sets; None for @once/@continuous
    _sets: tuple[frozenset[int], ...] | None = None
    _day_any: tuple[bool, bool] = (True, True)  # day of month / day of week given as * or ?
    _nearest: frozenset[int] = frozenset()  # "15W": the weekday nearest the 15th
    _nth: frozenset[tuple[int, int]] = frozenset()  # "MON#2": (weekday, n)

    @property
    def is_cron(self) -> bool:
        return self._sets is not None

    def next_runs(self, after: dt.datetime, count: int = 3) -> list[dt.datetime]:
        """The first ``count`` times (UTC, naive) strictly after ``after`` when a run starts."""
        if self._sets is None:
            return []
        minutes, hours, doms, months, dows = self._sets
        hours_sorted, minutes_sorted = sorted(hours), sorted(minutes)
        out: list[dt.datetime] = []
        day = after.date()
        # Four years cover every calendar; eight leave room for a 29 February after a century.
        quiet = 0  # days since the last run found
        while quiet < 366 * 8:
            quiet += 1
            if day.month in months and self._day_matches(day, doms, dows):
                for h in hours_sorted:
                    for m in minutes_sorted:
                        when = dt.datetime(day.year, day.month, day.day, h, m)
                        if when > after:
                            out.append(when)
                            quiet = 0
                            if len(out) == count:
                                return out
            day += dt.timedelta(days=1)
        return out

    def _day_matches(self, day: dt.date, doms: frozenset[int], dows: frozenset[int]) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        weekday = day.isoweekday() % 7
        in_month = (
            day.day in doms
            or (LAST in doms and day.day == last)
            or any(_nearest_weekday(day.year, day.month, n) == day.day for n in self._nearest)
        )
        in_week = weekday in dows or (weekday, (day.day - 1) // 7 + 1) in self._nth
        dom_any, dow_any = self._day_any
        if dom_any and dow_any:
            return True
        if dom_any:
            return in_week
        if dow_any:
            return in_month
        return in_month or in_week  # cron: both given means either


def parse(value: object) -> Schedule | None:
    """The schedule of a pipeline's ``mlpipe.schedule``; None for manual runs only (empty).
    Raises ScheduleError with a sentence that says what is expected."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ScheduleError(
            f"The schedule must be text (a preset such as @daily, or a cron expression such as "
            f"{EXAMPLE}), not {value!r}."
        )
    text = " ".join(value.split())
    if not text:
        return None
    if text.startswith("@"):
        return _preset(text)
    fields = text.split(" ")
    if len(fields) != 5:
        if len(fields) == 6 and all(_looks_like_cron(f) for f in fields):
            raise ScheduleError(
                f"'{text}' has 6 fields; Airflow schedules have 5 (minute, hour, day of the month, "
                "month, day of the week), with no seconds."
            )
        raise ScheduleError(
            f"'{text}' is not a schedule. Use a preset (@hourly, @daily, @weekly, @monthly, "
            f"@quarterly, @yearly, @once) or a cron expression of 5 fields (minute, hour, day of "
            f"the month, month, day of the week), e.g. {EXAMPLE}."
        )
    sets, any_flags = [], []
    specials: dict[str, set] = {"nearest": set(), "nth": set()}
    for field, part in zip(_FIELDS, fields):
        values, is_any = _parse_field(field, part, specials)
        sets.append(values)
        any_flags.append(is_any)
    minutes, hours, doms, months, dows = sets
    dows = frozenset(d % 7 for d in dows)  # 7 is Sunday too
    nearest, nth = frozenset(specials["nearest"]), frozenset(specials["nth"])
    if nth and not any_flags[2]:
        raise ScheduleError(
            f"'{text}' gives both a day of the month and an nth weekday ('#'); Airflow's cron "
            "library cannot step through that. Set the day of the month to '*'."
        )
    schedule = Schedule(
        text=text,
        description=_describe(
            (minutes, hours, doms, months, dows), (any_flags[2], any_flags[4]), nearest, nth
        ),
        _sets=(minutes, hours, doms, months, dows),
        _day_any=(any_flags[2], any_flags[4]),
        _nearest=nearest,
        _nth=nth,
    )
    if not schedule.next_runs(dt.datetime(2000, 1, 1), 1):
        raise ScheduleError(
            f"'{text}' never runs: {_describe_list(sorted(months), _MONTH_NAMES, 1)} "
            f"{'has' if len(months) == 1 else 'have'} no day "
            f"{_join([str(d) for d in sorted(doms) if d != LAST])}."
        )
    return schedule


def _preset(text: str) -> Schedule:
    if text in PRESETS:
        cron = PRESETS[text]
        if cron is None:
            return Schedule(text=text, description=_PRESET_WORDS[text])
        parsed = parse(cron)
        assert parsed is not None
        return Schedule(
            text=text,
            description=_PRESET_WORDS[text],
            _sets=parsed._sets,
            _day_any=parsed._day_any,
        )
    if text.lower() in PRESETS:
        hint = text.lower()
    else:
        close = difflib.get_close_matches(text.lower(), list(PRESETS), n=1, cutoff=0.6)
        hint = close[0] if close else ""
    names = ", ".join(p for p in PRESETS if p not in ("@annually", "@midnight"))
    if hint:
        raise ScheduleError(f"'{text}' is not a schedule preset; did you mean {hint}? ({names})")
    raise ScheduleError(f"'{text}' is not a schedule preset; use one of {names}.")


def _looks_like_cron(part: str) -> bool:
    return bool(part) and all(c.isalnum() or c in "*?,-/#" for c in part)


def _number(field: _Field, text: str, whole: str) -> int:
    upper = text.upper()
    if field.names and upper in field.names:
        return field.names.index(upper) + (1 if field.name == "month" else 0)
    if not text.isdigit():
        what = {
            "month": " or a month name (JAN-DEC)",
            "day of the week": " or a day name (SUN-SAT)",
        }.get(field.name, "")
        raise ScheduleError(
            f"'{whole}' is not a valid {field.name}: write a number{what}, '*' for every "
            f"{field.name}, a range like 1-5, a list like 1,15, or a step like */10."
        )
    number = int(text)
    if not field.low <= number <= field.high:
        raise ScheduleError(
            f"The {field.name} must be from {field.low} to {field.high}"
            + (" (0 and 7 are Sunday)" if field.name == "day of the week" else "")
            + f", not {number}"
            + (f" (in '{whole}')." if whole != text else ".")
        )
    return number


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The Monday-to-Friday day nearest ``day`` in the month (cron's ``W``), never leaving it."""
    last = calendar.monthrange(year, month)[1]
    day = min(day, last)
    weekday = dt.date(year, month, day).weekday()  # Monday 0
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def _parse_field(field: _Field, text: str, specials: dict[str, set]) -> tuple[frozenset[int], bool]:
    """The values a field matches, and whether it was a wildcard (``*`` or ``?``). ``W`` and
    ``#`` items go to ``specials`` (they depend on the month)."""
    if text in ("*", "?"):
        if text == "?" and field.name not in ("day of the month", "day of the week"):
            raise ScheduleError(f"'?' is only for the day fields, not the {field.name}.")
        return frozenset(range(field.low, field.high + 1)), True
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ScheduleError(f"'{text}' has an empty item in its list (two commas?).")
        if item.upper() == "L" and field.name == "day of the month":
            values.add(LAST)
            continue
        if field.name == "day of the month" and item.upper().endswith("W"):
            if "," in text:
                raise ScheduleError(
                    f"'W' (the nearest weekday) is for one day only, e.g. 15W, not in a list "
                    f"like '{text}'."
                )
            specials["nearest"].add(_number(field, item[:-1], item))
            continue
        if field.name == "day of the week" and "#" in item:
            day, _, n = item.partition("#")
            if not (n.isdigit() and 1 <= int(n) <= 5):
                raise ScheduleError(
                    f"In '{item}', the number after # says which one in the month: 1 to 5."
                )
            if any("#" not in other for other in text.split(",")):
                raise ScheduleError(
                    f"'{text}' mixes days of the week with '#' (the nth weekday); Airflow's cron "
                    "library takes one or the other."
                )
            specials["nth"].add((_number(field, day, item) % 7, int(n)))
            continue
        body, _, step_text = item.partition("/")
        step = 1
        if "/" in item:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(
                    f"The step in '{item}' must be a whole number of at least 1 (e.g. */15)."
                )
            step = int(step_text)
        if body in ("*", "?"):
            low, high = field.low, field.high
        elif "-" in body:
            a, _, b = body.partition("-")
            low, high = _number(field, a, item), _number(field, b, item)
            if low > high:  # wraps around, as croniter reads it: 22-2 is 22, 23, 0, 1, 2
                span = list(range(low, field.high + 1)) + list(range(field.low, high + 1))
                values.update(span[::step])
                continue
        else:
            low = _number(field, body, item)
            high = field.high if "/" in item else low  # "5/15": from 5, every 15
        values.update(range(low, high + 1, step))
    return frozenset(values), False


# -- words --------------------------------------------------------------------------------------


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs: [1,2,3,5] -> [(1,3),(5,5)]."""
    out: list[tuple[int, int]] = []
    for v in values:
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _step(values: list[int], low: int, high: int) -> int | None:
    """n when the values are low, low+n, ... up to the field's end (a */n field), else None."""
    if len(values) < 2 or values[0] != low:
        return None
    n = values[1] - values[0]
    return n if n > 1 and values == list(range(low, high + 1, n)) else None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _describe_time(minutes: list[int], hours: list[int]) -> str:
    all_minutes, all_hours = len(minutes) == 60, len(hours) == 24
    minute_step, hour_step = _step(minutes, 0, 59), _step(hours, 0, 23)
    if all_minutes and all_hours:
        return "Every minute"
    if all_hours and minute_step:
        return f"Every {minute_step} minutes"
    if all_hours and minutes == [0]:
        return "Every hour, on the hour"
    if all_hours:
        word = "minute" if len(minutes) == 1 else "minutes"
        return f"Every hour at {word} {_join([str(m) for m in minutes])}"
    if hour_step and len(minutes) == 1:
        at = "on the hour" if minutes == [0] else f"at minute {minutes[0]}"
        return f"Every {hour_step} hours, {at}"
    if all_minutes:
        spans = [f"{a:02d}:00 to {b:02d}:59" for a, b in _runs(hours)]
        return f"Every minute from {_join(spans)} UTC"
    if len(hours) * len(minutes) <= 6:
        return f"At {_join([f'{h:02d}:{m:02d}' for h in hours for m in minutes])} UTC"
    spans = _runs(hours)
    if len(minutes) == 1 and len(spans) == 1:
        (a, b), m = spans[0], minutes[0]
        at = "on the hour" if m == 0 else f"at minute {m}"
        return f"Every hour {at} from {a:02d}:{m:02d} to {b:02d}:{m:02d} UTC"
    if minute_step and len(spans) == 1:
        (a, b), last = spans[0], minutes[-1]
        return f"Every {minute_step} minutes from {a:02d}:00 to {b:02d}:{last:02d} UTC"
    if minute_step:
        return f"Every {minute_step} minutes during hour {_join([str(h) for h in hours])} (UTC)"
    return (
        f"At minute {_join([str(m) for m in minutes])} past hour "
        f"{_join([str(h) for h in hours])} (UTC)"
    )


def _describe_list(values: list[int], names: list[str], offset: int) -> str:
    spans = []
    for a, b in _runs(values):
        if b - a >= 2:
            spans.append(f"{names[a - offset]} to {names[b - offset]}")
        else:
            spans.extend(names[v - offset] for v in range(a, b + 1))
    return _join(spans)


def _describe(
    sets: tuple[frozenset[int], ...],
    day_any: tuple[bool, bool],
    nearest: frozenset[int],
    nth: frozenset[tuple[int, int]],
) -> str:
    minutes, hours, doms, months, dows = (sorted(s) for s in sets)
    words = _describe_time(minutes, hours)
    dom_any, dow_any = day_any
    days = []
    if not dom_any:
        plain = [d for d in doms if d != LAST]
        parts = []
        step = _step(plain, 1, 31) if LAST not in doms else None
        if step:
            parts.append(f"every {_ordinal(step)} day of the month")
        elif plain:
            word = "day" if len(plain) == 1 else "days"
            parts.append(f"{word} {_join([str(d) for d in plain])} of the month")
        if LAST in doms:
            parts.append("the last day of the month")
        for n in sorted(nearest):
            parts.append(f"the weekday nearest day {n} of the month")
        days.append("on " + " and ".join(parts))
    if not dow_any:
        parts = [_describe_list(dows, _DAY_NAMES, 0)] if dows else []
        parts += [f"the {_ordinal(n)} {_DAY_NAMES[d]} of the month" for d, n in sorted(nth)]
        days.append("on " + _join(parts))
    if days:
        words += ", " + " or ".join(days)
    elif len(hours) < 24 and not words.startswith("Every"):
        words += ", every day"
    if len(months) < 12:
        words += ", in " + _describe_list(months, _MONTH_NAMES, 1)
    return words


def describe_runs(schedule: Schedule, after: dt.datetime, count: int = 3) -> list[str]:
    """The next runs as 'YYYY-MM-DD HH:MM' (UTC)."""
    return [t.strftime("%Y-%m-%d %H:%M") for t in schedule.next_runs(after, count)]


def explain(value: object, start_date: object = None, now: dt.datetime | None = None) -> dict:
    """What the editor and ``mlpipe schedule`` show: the schedule as it goes into the DAG, its
    description and its next runs (after the start date, or now if later).
    Raises ScheduleError (as parse does) for a bad schedule or start date."""
    schedule = parse(value)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    after = now
    if start_date not in (None, ""):
        try:
            start = dt.datetime.fromisoformat(str(start_date))
        except ValueError:
            raise ScheduleError(
                f"The start date must be a date like 2024-01-31, not {start_date!r}."
            ) from None
        # the first run is the first tick at or after the start date
        after = max(now, start.replace(tzinfo=None) - dt.timedelta(minutes=1))
    if schedule is None:
        return {
            "schedule": None,
            "description": "No schedule: the DAG runs only when triggered.",
            "next_runs": [],
        }
    return {
        "schedule": schedule.text,
        "description": schedule.description,
        "next_runs": describe_runs(schedule, after),
    }
