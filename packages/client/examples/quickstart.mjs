// Sign up, create a family calendar, add an event, and wait until the server has stored it.
// Run against a started kith-server:  KITH_URL=http://localhost:8080 node packages/client/examples/quickstart.mjs
import WebSocket from 'ws';
import { createKithClient } from '@kith/client/node';

const kith = createKithClient({ baseUrl: process.env.KITH_URL ?? 'http://localhost:8080', WebSocket, persistence: 'memory' });
const username = `demo${Date.now().toString(36)}`;
await kith.register(username, 'correct horse battery');
await kith.login(username, 'correct horse battery');

const { roomId } = await kith.rooms.create('Family');
const calendar = await kith.openCalendar(roomId);
calendar.createEvent({
  title: 'Dinner at Grandma’s',
  start: '2026-12-24T18:00',
  end: '2026-12-24T21:00',
  tz: 'Europe/Berlin',
  rrule: 'FREQ=YEARLY;COUNT=3',
});
await calendar.whenSaved(); // on the server's disk, not just sent

for (const o of calendar.occurrences({ from: '2026-01-01T00:00:00Z', to: '2029-01-01T00:00:00Z' })) {
  console.log(`${o.title}: ${o.start} ${o.tz}`);
}
await kith.close();
