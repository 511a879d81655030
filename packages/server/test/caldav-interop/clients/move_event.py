"""
A phone moving one event over CalDAV with python3-caldav: finds the calendar by name through the
principal, loads the event by UID, sets a new DTSTART/DTEND (UTC) and saves it (a PUT of the whole
object, as every CalDAV client does).

Usage: move_event.py URL USERNAME CALENDAR_NAME UID NEW_START NEW_END   (password in CALDAV_PASSWORD)
NEW_START / NEW_END as YYYYMMDDTHHMMSSZ. Prints the summary the client saw and saved.
"""
import os
import sys
from datetime import datetime, timezone

import caldav

url, username, calendar_name, uid, new_start, new_end = sys.argv[1:7]
client = caldav.DAVClient(url=url, username=username, password=os.environ["CALDAV_PASSWORD"])
calendar = next(c for c in client.principal().calendars() if c.name == calendar_name)
event = calendar.event_by_uid(uid)
vevent = event.vobject_instance.vevent
parse = lambda s: datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
vevent.dtstart.value = parse(new_start)
if hasattr(vevent, "dtend"):
    vevent.dtend.value = parse(new_end)
event.save()
print(vevent.summary.value)
