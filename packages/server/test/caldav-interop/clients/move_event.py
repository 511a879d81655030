"""
A phone moving one event over CalDAV with python3-caldav: finds the calendar by name through the
principal, loads the event by UID, sets a new DTSTART/DTEND (UTC) and saves it (a PUT of the whole
object, as every CalDAV client does).

Usage: move_event.py URL USERNAME CALENDAR_NAME UID NEW_START NEW_END   (password in CALDAV_PASSWORD)
NEW_START / NEW_END as YYYYMMDDTHHMMSSZ. Prints the summary the client saw and saved.
"""
import os
import sys
from datetime import datetime

import caldav
import caldav.lib.error
from vobject.icalendar import utc  # vobject serialises its own UTC as ...Z (not datetime.timezone.utc)

url, username, calendar_name, uid, new_start, new_end = sys.argv[1:7]
client = caldav.DAVClient(url=url, username=username, password=os.environ["CALDAV_PASSWORD"])
calendar = next(c for c in client.principal().calendars() if c.name == calendar_name)
try:
    event = calendar.event_by_uid(uid)
except (caldav.lib.error.AuthorizationError, caldav.lib.error.ReportError):
    # A server that refuses the UID filter (403 supported-filter): find it among all events.
    event = next(e for e in calendar.events() if str(e.vobject_instance.vevent.uid.value) == uid)
vevent = event.vobject_instance.vevent
parse = lambda s: datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=utc)
vevent.dtstart.value = parse(new_start)
if hasattr(vevent, "dtend"):
    vevent.dtend.value = parse(new_end)
event.save()
print(vevent.summary.value)
