"""
A phone adding an alarm to one event with python3-caldav: finds the calendar by name, loads the
event by UID, adds a VALARM (DISPLAY, 15 minutes before) with vobject, saves it (a whole-object
PUT), loads it again and prints what it now holds: one JSON line with each VALARM's TRIGGER (in minutes) and
X-KITH-REMINDER-ID.

Usage: add_alarm.py URL USERNAME CALENDAR_NAME UID   (password in CALDAV_PASSWORD)
"""
import json
import os
import sys
from datetime import timedelta

import caldav

url, username, calendar_name, uid = sys.argv[1:5]
client = caldav.DAVClient(url=url, username=username, password=os.environ["CALDAV_PASSWORD"])
calendar = next(c for c in client.principal().calendars() if c.name == calendar_name)
event = calendar.event_by_uid(uid)
vevent = event.vobject_instance.vevent
alarm = vevent.add("valarm")
alarm.add("action").value = "DISPLAY"
alarm.add("description").value = "Reminder"
alarm.add("trigger").value = timedelta(minutes=-15)
event.save()

again = calendar.event_by_uid(uid)
alarms = []
for a in again.vobject_instance.vevent.contents.get("valarm", []):
    rid = a.contents.get("x-kith-reminder-id")
    alarms.append({"minutes": int(a.trigger.value.total_seconds() // 60), "id": rid[0].value if rid else None})
print(json.dumps(alarms))
