/**
 * The module interface (src/modules): startKithServer installs exactly the modules it is given,
 * in order, and closes them in reverse order before the sync server; a module that fails to
 * install closes those installed before it. A module's context reaches routes (custom methods
 * included), rooms with a named origin, request authentication, memberships and its own tables.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { defaultConfig, startKithServer, type KithModule, type KithServer, type ModuleContext } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { makeDataDir, TEST_JWT_SECRET } from './helpers/server.js';

const servers: KithServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

const config = async () =>
  defaultConfig({ port: 0, host: '127.0.0.1', dataDir: await makeDataDir(), logLevel: 'silent', jwtSecret: TEST_JWT_SECRET });

/** A module that notes when it is installed and closed. */
function recording(name: string, log: string[], opts: { failInstall?: boolean } = {}): KithModule {
  return {
    name,
    async install() {
      if (opts.failInstall) throw new Error(`${name} cannot start`);
      log.push(`install ${name}`);
      return { close: async () => void log.push(`close ${name}`) };
    },
  };
}

describe('modules', () => {
  it('are installed in order before the server listens, and closed in reverse order when it stops', async () => {
    const log: string[] = [];
    const server = await startKithServer(await config(), { modules: [recording('first', log), recording('second', log)] });
    expect(log).toEqual(['install first', 'install second']);
    await server.close();
    expect(log).toEqual(['install first', 'install second', 'close second', 'close first']);
  });

  it('without modules the core serves auth and rooms, and no calendar routes', async () => {
    const server = await startKithServer(await config());
    servers.push(server);
    const api = apiClient(server.url);
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    expect((await api.request('GET', `/rooms/${roomId}/events`, { token: alice.token })).status).toBe(404);
  });

  it('a module that fails to install closes the ones installed before it, and the start fails', async () => {
    const log: string[] = [];
    const modules = [recording('first', log), recording('broken', log, { failInstall: true }), recording('never', log)];
    await expect(startKithServer(await config(), { modules })).rejects.toThrow('broken cannot start');
    expect(log).toEqual(['install first', 'close first']);
  });

  it('gets routes with custom methods, authenticated users, memberships, rooms with an origin, and its own tables', async () => {
    let ctx: ModuleContext | undefined;
    const origins: unknown[] = [];
    const probe: KithModule = {
      name: 'probe',
      migrations: {
        sqlite: ['CREATE TABLE probe_seen (user_id TEXT PRIMARY KEY)'],
        postgres: ['CREATE TABLE probe_seen (user_id text PRIMARY KEY)'],
      },
      async install(c) {
        ctx = c;
        c.app.addHttpMethod('PROPFIND', { hasBody: true });
        c.app.addContentTypeParser('application/xml', { parseAs: 'string' }, (_req, body, done) => done(null, body));
        c.app.route({
          method: 'PROPFIND',
          url: '/probe/:roomId',
          handler: async (request, reply) => {
            const user = await c.auth.verifyRequest(request);
            const { roomId } = request.params as { roomId: string };
            const role = await c.members.role(roomId, user.userId);
            await c.sql.run('INSERT INTO probe_seen (user_id) VALUES (?) ON CONFLICT (user_id) DO NOTHING', [user.userId]);
            reply.type('application/xml').code(207);
            return `<multistatus user="${user.username}" role="${role}" name="${await c.members.roomName(roomId)}">${request.body as string}</multistatus>`;
          },
        });
        return { close: async () => undefined };
      },
    };
    const server = await startKithServer(await config(), { modules: [probe] });
    servers.push(server);
    const api = apiClient(server.url);
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token, 'Home');

    const res = await fetch(`${server.url}/probe/${roomId}`, {
      method: 'PROPFIND',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/xml' },
      body: '<propfind/>',
    });
    expect(res.status).toBe(207);
    expect(await res.text()).toBe(`<multistatus user="${alice.username}" role="owner" name="Home"><propfind/></multistatus>`);
    const anonymous = await fetch(`${server.url}/probe/${roomId}`, { method: 'PROPFIND' });
    expect(anonymous.status).toBe(401);
    expect(await ctx!.sql.all('SELECT user_id FROM probe_seen')).toEqual([{ user_id: alice.userId }]);

    // Edits through ctx.rooms carry the module's origin and are stored like any other.
    const stop = await ctx!.rooms.watch(roomId, {
      onOpen: (doc) => doc.on('afterTransaction', (tr: Y.Transaction) => origins.push(tr.origin)),
      onCommitted: () => undefined,
    });
    await ctx!.rooms.edit(roomId, (doc) => doc.getMap('probe').set('k', 'v'), 'probe');
    expect(origins).toContain('probe');
    expect(await ctx!.rooms.read(roomId, (doc) => doc.getMap('probe').get('k'))).toBe('v');
    stop();
    expect(ctx!.logger.bindings()).toMatchObject({ component: 'probe' });
  });
});
