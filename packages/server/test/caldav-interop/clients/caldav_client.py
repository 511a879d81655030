"""
The python3-caldav scenario (Debian's python3-caldav 0.11), run unchanged against Radicale and Kith.

Usage: caldav_client.py URL USERNAME PASSWORD CALENDAR_NAME
(the password may instead come in the environment as CALDAV_PASSWORD, so it is not in argv).

Prints one JSON object: what each step saw. Steps that raise are recorded as
{"error": "<ExceptionClass>: <message>"} and the scenario goes on, so one difference does not
hide the others. The caller (caldav-interop.test.ts) compares the figures with what RFC 4791 /
RFC 6578 promise and with the other server's run.
"""
import json
import os
import sys
import traceback
from datetime import date, datetime, timezone

import caldav
from caldav.lib import error

URL, USERNAME, PASSWORD_ARG, CALENDAR_NAME = sys.argv[1:5]
PASSWORD = os.environ.get("CALDAV_PASSWORD", PASSWORD_ARG)

result = {}


def step(name):
    def wrap(fn):
        try:
            result[name] = fn()
        except Exception as e:  # the test reads the class and message
            result[name] = {"error": "%s: %s" % (type(e).__name__, str(e)[:300])}
            result.setdefault("_tracebacks", {})[name] = traceback.format_exc()[-1500:]
        return fn

    return wrap


def uid_of(obj):
    return str(obj.vobject_instance.vevent.uid.value)


def start_text(vevent):
    v = vevent.dtstart.value
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")
    return v.isoformat()


def occurrence_texts(obj):
    return ["%s %s %s" % (v.uid.value, start_text(v), v.summary.value) for v in obj.vobject_instance.vevent_list]


def ics(uid, start, summary):
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Kith interop python3-caldav//EN",
            "BEGIN:VEVENT",
            "UID:" + uid,
            "DTSTAMP:20260201T000000Z",
            "DTSTART:" + start,
            "DTEND:" + start[:9] + "%02d" % (int(start[9:11]) + 1) + start[11:],
            "SUMMARY:" + summary,
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


client = caldav.DAVClient(url=URL, username=USERNAME, password=PASSWORD)
ctx = {}


def find(uid):
    """The event with this UID: the library's own lookup (a calendar-query with a UID text-match),
    or, where the server refuses that filter, the same found among all events, so one refused
    filter (reported by the uidLookup step) does not hide the rest of the scenario."""
    try:
        return cal.event_by_uid(uid)
    except (error.AuthorizationError, error.ReportError):
        for e in cal.events():
            if uid_of(e) == uid:
                return e
        raise error.NotFoundError("%s not found on server" % uid)


@step("discovery")
def _():
    principal = client.principal()
    calendars = principal.calendars()
    names = sorted(str(c.name) for c in calendars)
    found = [c for c in calendars if c.name == CALENDAR_NAME]
    if found:
        ctx["calendar"] = found[0]
    return {"principal": str(principal.url), "calendarNames": names, "found": bool(found)}


cal = ctx.get("calendar")
if cal is None:
    print(json.dumps(result))
    sys.exit(0)


@step("components")
def _():
    return sorted(cal.get_supported_components())


@step("list")
def _():
    return sorted(uid_of(e) for e in cal.events())


@step("marchExpanded")
def _():
    # A time-range calendar-query; python3-caldav 0.11 expands recurrences on the client
    # (recurring_ical_events), so this checks which objects the server's filter lets through
    # (RFC 4791 §9.9: a series matches when any occurrence overlaps) and that they carry the
    # series with its overrides and EXDATEs.
    found = cal.search(
        start=datetime(2026, 3, 1, tzinfo=timezone.utc),
        end=datetime(2026, 4, 1, tzinfo=timezone.utc),
        event=True,
        expand=True,
    )
    return sorted(t for o in found for t in occurrence_texts(o))


@step("uidLookup")
def _():
    # python3-caldav's event_by_uid (used by its save(no_overwrite=…), and by most scripts that
    # touch one event): REPORT calendar-query with prop-filter UID / text-match (RFC 4791 §9.7.5).
    try:
        return str(cal.event_by_uid("seed-single@interop.test").vobject_instance.vevent.summary.value)
    except error.AuthorizationError:
        return "refused with 403"
    except error.ReportError as e:
        return "refused: " + str(e)[:120]


@step("create")
def _():
    cal.save_event(ics("py-created@interop.test", "20260312T150000Z", "Piano lesson"))
    got = find("py-created@interop.test")
    return {"summary": str(got.vobject_instance.vevent.summary.value), "url": str(got.url)}


@step("update")
def _():
    ev = find("py-created@interop.test")
    ev.vobject_instance.vevent.summary.value = "Piano lesson (moved room)"
    ev.save()
    again = find("py-created@interop.test")
    return {"summary": str(again.vobject_instance.vevent.summary.value)}


@step("syncInitial")
def _():
    objs = cal.objects_by_sync_token(load_objects=True)
    ctx["token"] = objs.sync_token
    ctx["collection"] = objs
    return {"count": len(list(objs)), "hasToken": bool(objs.sync_token)}


@step("syncAfterChange")
def _():
    cal.save_event(ics("py-synced@interop.test", "20260313T150000Z", "Football"))
    single = find("seed-single@interop.test")
    single.vobject_instance.vevent.summary.value = "Dentist (Dr Ames)"
    single.save()
    changed = cal.objects_by_sync_token(sync_token=ctx["token"], load_objects=True)
    ctx["token2"] = changed.sync_token
    uids = sorted(uid_of(o) for o in changed if o.data)
    return {"changedUids": uids, "tokenMoved": changed.sync_token != ctx["token"]}


@step("syncAfterDelete")
def _():
    find("py-synced@interop.test").delete()
    changed = cal.objects_by_sync_token(sync_token=ctx["token2"], load_objects=False)
    deleted = []
    live = []
    for o in changed:
        try:
            o.load()
            live.append(uid_of(o))
        except error.NotFoundError:
            deleted.append(str(o.url).rsplit("/", 1)[-1])
    return {"deletedCount": len(deleted), "live": sorted(live)}


@step("syncHelper")
def _():
    # The library's own incremental sync over the collection fetched in syncInitial.
    cal.save_event(ics("py-helper@interop.test", "20260314T150000Z", "Chess club"))
    updated, deleted = ctx["collection"].sync()
    return {"updated": sorted(uid_of(o) for o in updated), "deleted": len(deleted)}


@step("syncUnknownToken")
def _():
    # RFC 6578 §3.2: an unknown token gets 403 DAV:valid-sync-token; python3-caldav raises.
    try:
        objs = cal.objects_by_sync_token(sync_token="http://example.invalid/ns/sync/unknown")
        return "answered %d objects" % len(list(objs))
    except error.AuthorizationError:
        return "refused with 403"
    except error.ReportError as e:
        return "refused: " + str(e)[:120]


@step("delete")
def _():
    find("py-created@interop.test").delete()
    try:
        find("py-created@interop.test")
        return "still there"
    except error.NotFoundError:
        return "gone"


@step("listAfter")
def _():
    return sorted(uid_of(e) for e in cal.events())


print(json.dumps(result))
