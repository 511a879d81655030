/**
 * The export of one link (room → Google): every part that differs from Google's side as last seen is
 * inserted, patched (series fields first, then one occurrence at a time) or deleted, one step at a time,
 * each step saved in its row before the next; Google changing under us sends the part back through the
 * import's merge.
 */
import { getEvent, restoreEvent } from '@kith/model';
import {
  defaultsFor,
  googleOccurrence,
  googleUpdated,
  masterBody,
  masterPatch,
  occurrencePatch,
  privateProps,
  PROP,
  remoteCanon,
  same,
  stableJson,
  type Identity,
  type PartCanon,
  type RemoteException,
} from './canon.js';
import { classify, GoogleFailure, type GoogleClients } from './google.js';
import { LinkPaused, mirrorOpContext, type MirrorTools, type RunnerContext, type Step } from './mirror-context.js';
import type { MirrorImport } from './mirror-import.js';
import { fetchEvent, findInstance } from './mirror-fetch.js';
import { MirrorRows } from './mirror-rows.js';
import { emptyRemote, foldException, foldMaster, remoteOf, snapshot, type GEvent, type Snapshot } from './mirror-state.js';
import type { ResolvedOptions } from './options.js';
import type { LinkRow, MirrorRow } from './store.js';

/** What one batch of an export did: events not reached yet, events in step now, events Google refused for now. */
export interface ExportOutcome {
  rest: string[];
  settled: string[];
  failed: Array<{ kithId: string; failure: GoogleFailure }>;
}

/** What one part's export sent last, to tell a normalising Google from a real change. */
interface ExportMemo {
  lastMaster?: string;
  lastOccurrence?: string;
}

export class MirrorExport {
  /** Occurrence writes Google cannot take (no such instance); retried when the wanted values change. */
  private readonly unpatchable = new Set<string>();
  private readonly rows: MirrorRows;

  constructor(
    private readonly tools: MirrorTools,
    private readonly mirrorImport: MirrorImport,
  ) {
    this.rows = new MirrorRows(tools.ctx, tools.roomId);
  }

  private get ctx(): RunnerContext {
    return this.tools.ctx;
  }

  private get roomId(): string {
    return this.tools.roomId;
  }

  private get options(): ResolvedOptions {
    return this.tools.ctx.options;
  }

  /** Google requests made by this export so far (what a batch is measured in). */
  private requests = 0;

  private call<T>(link: LinkRow, google: GoogleClients, what: string, fn: () => Promise<T>): Promise<T> {
    this.requests += 1;
    // No in-line retries of 5xx: one refused event must not hold up the others (the runner retries it).
    return this.tools.call(link, google, what, fn, { transientAttempts: 1 });
  }

  private readonly onReadError = (err: unknown, eventId: string): void => {
    this.options.logger.warn({ err, roomId: this.roomId, eventId }, 'event cannot be read for export; skipped');
  };

  private async readPart(link: LinkRow, kithId: string, part: string): Promise<PartCanon | null> {
    const snap = await this.ctx.host.readRoom(this.roomId, (doc) => snapshot(doc, new Set([kithId]), link.calendarTz, this.onReadError));
    this.ctx.life.check();
    return snap.get(kithId)?.parts.get(part) ?? null;
  }

  /**
   * Exports the given events (or all), in order, until `exportBatch` Google requests were made: the rest is
   * returned for the next batch, so the runner can list Google's changes in between. An event Google refuses
   * with a 5xx or a network error is returned as failed (the runner retries it on its own backoff) and the
   * others go on; events in `deferred` are waiting for such a retry and are skipped.
   */
  async exportChanges(link: LinkRow, google: GoogleClients, ids: Set<string> | 'all', deferred: { has(kithId: string): boolean }): Promise<ExportOutcome> {
    const { host, store, life } = this.ctx;
    const snap = await host.readRoom(this.roomId, (doc) => snapshot(doc, ids, link.calendarTz, this.onReadError));
    life.check();
    const rows = store.mirrorRows(this.roomId);
    const kithIds = ids === 'all' ? new Set([...snap.keys(), ...rows.map((r) => r.kithId)]) : ids;
    const order = [...kithIds].sort();
    await this.holdMassDeletion(link, order, snap);
    const outcome: ExportOutcome = { rest: [], settled: [], failed: [] };
    const start = this.requests;
    let next = 0;
    let fatal: { err: unknown } | null = null;
    // A few events at a time (each event's steps stay in order): Google answers a write in a few hundred ms,
    // so one at a time would stay far below the per-user rate the token bucket allows.
    const lane = async (): Promise<void> => {
      while (!fatal && next < order.length && this.requests - start < this.options.exportBatch) {
        const kithId = order[next++]!;
        if (deferred.has(kithId)) continue;
        const roomEvent = snap.get(kithId);
        // Never delete in Google for an event the room does not hold at all (purged, or adoption pending).
        if (!roomEvent) continue;
        try {
          for (const [part, ours] of roomEvent.parts) await this.exportPart(link, google, kithId, part, ours);
          for (const row of store.mirrorByKithId(this.roomId, kithId)) {
            if (roomEvent.parts.has(row.part)) continue;
            if (row.state === 'synced' || row.state === 'inserting') await this.deletePart(link, google, row);
          }
          outcome.settled.push(kithId);
        } catch (err) {
          // A 401 that survived the refreshes is about the link's access, not this event: the cycle fails on it.
          if (err instanceof GoogleFailure && err.kind === 'transient' && err.status !== 401) outcome.failed.push({ kithId, failure: err });
          else fatal ??= { err };
        }
      }
    };
    // Every lane finishes the event it is on before the batch ends, also when another one failed.
    await Promise.all(Array.from({ length: this.options.exportConcurrency }, lane));
    if (fatal) throw (fatal as { err: unknown }).err;
    outcome.rest = order.slice(next);
    return outcome;
  }

  /**
   * Many of the room's events deleted at once (more than `massDeleteLimit` with a copy in Google): hold the link
   * for an owner rather than emptying the family's Google calendar. `apply` deletes them in Google; `restore`
   * brings them back in the room (Kith deletions are soft), so nothing is deleted in Google.
   */
  private async holdMassDeletion(link: LinkRow, order: string[], snap: Snapshot): Promise<void> {
    const { store, options, host, life } = this.ctx;
    const deleted = order.filter((kithId) => {
      const roomEvent = snap.get(kithId);
      return roomEvent?.deleted === true && store.mirrorByKithId(this.roomId, kithId).some((r) => r.state === 'synced');
    });
    if (deleted.length <= options.massDeleteLimit) return;
    const decision = store.link(this.roomId)?.massDelete ?? link.massDelete;
    if (decision === 'apply') {
      store.updateLink(this.roomId, { massDelete: null }, options.now());
      return;
    }
    if (decision === 'restore') {
      await host.editRoom(this.roomId, (doc) => {
        life.check();
        for (const kithId of deleted) if (getEvent(doc, kithId)?.deleted) restoreEvent(doc, kithId, mirrorOpContext(options));
      });
      life.check();
      for (const kithId of deleted) snap.delete(kithId);
      store.updateLink(this.roomId, { massDelete: null }, options.now());
      return;
    }
    const message = `${deleted.length} of this room's events were deleted at once (more than ${options.massDeleteLimit}); an owner must apply the deletion in Google or undo it`;
    options.logger.warn({ roomId: this.roomId, deletions: deleted.length }, 'mass deletion in the room; link held for an owner');
    store.updateLink(this.roomId, { status: 'awaiting_confirmation', statusReason: 'MASS_DELETE_IN_ROOM', lastError: message, lastErrorAt: options.now() }, options.now());
    throw new LinkPaused();
  }

  private async exportPart(link: LinkRow, google: GoogleClients, kithId: string, part: string, local: PartCanon): Promise<void> {
    let ours: PartCanon | null = local;
    const memo: ExportMemo = {};
    for (let round = 0; round < 200; round++) {
      if (!ours) {
        const row = this.rows.currentRow(kithId, part);
        if (row && (row.state === 'synced' || row.state === 'inserting')) await this.deletePart(link, google, row);
        return;
      }
      const step = await this.exportStep(link, google, kithId, part, ours, memo);
      if (step === 'done') return;
      if (step === 'reread') {
        // Google changed under us: what we sent last says nothing about normalisation any more.
        delete memo.lastMaster;
        delete memo.lastOccurrence;
        ours = await this.readPart(link, kithId, part);
      }
    }
    this.options.logger.warn({ roomId: this.roomId, kithId, part }, 'export did not settle; will retry next cycle');
  }

  private fail(row: MirrorRow, ours: PartCanon, failure: GoogleFailure): Step {
    this.options.logger.warn({ roomId: this.roomId, kithId: row.kithId, status: failure.status, reason: failure.reason, message: failure.message }, 'Google refused an event; it stays unsynced until it changes');
    this.rows.save(row, { failedLocal: stableJson(ours), error: `${failure.status ?? ''} ${failure.reason ?? ''} ${failure.message}`.trim().slice(0, 1000) });
    return 'done';
  }

  private identity(row: MirrorRow): Identity {
    return { kithId: row.kithId, roomId: this.roomId, part: row.part };
  }

  /** Google changed under us (412 and friends): fetch, merge with the room, and go again. */
  private async refetch(link: LinkRow, google: GoogleClients, row: MirrorRow, exceptionKey?: string): Promise<Step> {
    const rs = structuredClone(row.remote) ?? emptyRemote(row.googleId);
    if (exceptionKey !== undefined) {
      const exception = rs.ex[exceptionKey];
      const got = exception ? await fetchEvent(this.tools, link, google, exception.id) : null;
      if (got) foldException(rs, got, link.calendarTz);
      else delete rs.ex[exceptionKey];
    } else {
      const got = await fetchEvent(this.tools, link, google, row.googleId);
      if (!got) return this.rows.bumpGeneration(row);
      foldMaster(rs, got, link.calendarTz);
    }
    await this.mirrorImport.absorb(link, [{ row, rs, prev: row.remote }]);
    return 'reread';
  }

  private async exportStep(link: LinkRow, google: GoogleClients, kithId: string, part: string, ours: PartCanon, memo: ExportMemo): Promise<Step> {
    const calTz = link.calendarTz;
    let row = this.rows.currentRow(kithId, part);
    if (!row) {
      // The id is chosen and stored before the insert is sent: a retry after any failure reuses it.
      this.rows.newRow(kithId, part, 0);
      return 'again';
    }
    if (row.failedLocal !== null && row.failedLocal === stableJson(ours)) return 'done';

    if (row.state === 'inserting' || !row.remote) {
      // What this insert sends is recorded first: if its answer is lost and Google's copy is edited before the
      // retry, the merge needs it as the base (else the retry would take back the edit).
      const sent = row.sent ?? stableJson(ours);
      if (row.state === 'inserting' && row.sent == null) row = this.rows.save(row, { sent });
      try {
        const res = await this.call(link, google, 'events.insert', () =>
          google.api.events.insert({ calendarId: link.calendarId, sendUpdates: 'none', requestBody: { ...masterBody(ours, this.identity(row!)), id: row!.googleId } }),
        );
        this.tools.counters.exported += 1;
        this.rows.save(row, { state: 'synced', remote: remoteOf(res.data, calTz), failedLocal: null, error: null });
        return 'again';
      } catch (err) {
        const failure = classify(err);
        if (failure.status === 409) {
          // Already there: ours from an earlier attempt (adopt it), or someone else's (next generation).
          const got = await fetchEvent(this.tools, link, google, row.googleId);
          const props = got ? privateProps(got) : {};
          if (got && props[PROP.kithId] === kithId && props[PROP.room] === this.roomId && (props[PROP.part] ?? '') === part) {
            if (got.status === 'cancelled') {
              this.rows.save(row, { state: 'gone', remote: remoteOf(got, calTz) });
              return 'again';
            }
            // Ours from the attempt whose answer was lost, maybe edited in Google since: a three-way merge with
            // what that attempt sent as the base keeps both sides' changes.
            const adopted = this.rows.save(row, { state: 'synced' });
            await this.mirrorImport.absorb(link, [{ row: adopted, rs: remoteOf(got, calTz), prev: null, base: JSON.parse(sent) as PartCanon }]);
            return 'reread';
          }
          return this.rows.bumpGeneration(row);
        }
        if (failure.kind === 'status') return this.fail(row, ours, failure);
        throw failure;
      }
    }

    const rs = row.remote;
    if (rs.cancelled || !rs.master) {
      // Deleted in Google but alive here: bring it back under the same id.
      return this.patchMaster(link, google, row, ours, { ...masterBody(ours, this.identity(row), true), status: 'confirmed' });
    }
    const theirs = remoteCanon(rs);
    if (theirs && same(ours, theirs)) {
      if (row.failedLocal !== null) this.rows.save(row, { failedLocal: null, error: null });
      return 'done';
    }

    // Master fields. EXDATE lines for every cancelled key except those already cancelled as exceptions.
    const exLines = ours.exdates.filter((occKey) => !rs.ex[occKey]?.cancelled || rs.master!.exdates.includes(occKey));
    const patch = masterPatch(ours, rs.master, exLines, this.identity(row));
    if (patch) {
      const sig = stableJson(patch);
      if (memo.lastMaster !== sig) {
        memo.lastMaster = sig;
        return this.patchMaster(link, google, row, ours, patch);
      }
      // The same write again: Google keeps its own form of it. Take that form into the room (series fields
      // only; occurrences and cancellations keep the room's side), so the two agree and nothing loops.
      if (theirs) {
        const base: PartCanon = { ...ours, exdates: theirs.exdates, rdates: theirs.rdates, ov: theirs.ov };
        await this.mirrorImport.absorb(link, [{ row, rs, prev: rs, base }]);
      }
      return 'done';
    }

    // Occurrences.
    const keys = new Set([...Object.keys(ours.ov), ...Object.keys(rs.ex)]);
    for (const occKey of [...keys].sort()) {
      const exception = rs.ex[occKey];
      if (ours.exdates.includes(occKey)) {
        if (exception && !exception.cancelled) return this.deleteException(link, google, row, ours, occKey, exception);
        continue;
      }
      const want = ours.ov[occKey] ?? null;
      const target = want ?? defaultsFor(ours, occKey);
      if (exception && !exception.cancelled && exception.values && same(exception.values, target)) continue;
      if (!exception && !want) continue;
      const sig = `${occKey}|${stableJson(target)}`;
      if (memo.lastOccurrence === sig) continue;
      memo.lastOccurrence = sig;
      let inst: RemoteException | null = exception ?? null;
      if (!inst) {
        const unpatchableKey = `${row.googleId}|${occKey}|${stableJson(target)}`;
        if (this.unpatchable.has(unpatchableKey)) continue;
        inst = await findInstance(this.tools, link, google, row, ours, occKey);
        if (!inst) {
          this.unpatchable.add(unpatchableKey);
          this.options.logger.warn({ roomId: this.roomId, kithId, occurrence: occKey }, 'Google has no such occurrence; the override stays local');
          continue;
        }
        if (!inst.cancelled && inst.values && same(inst.values, target)) {
          this.rows.save(row, { remote: { ...rs, ex: { ...rs.ex, [occKey]: inst } } });
          return 'again';
        }
      }
      return this.patchException(link, google, row, ours, occKey, inst, target);
    }

    // What is left cannot be written (an occurrence Google does not have): it stays in the room as it is.
    return 'done';
  }

  private async patchMaster(link: LinkRow, google: GoogleClients, row: MirrorRow, ours: PartCanon, body: GEvent): Promise<Step> {
    const rs = row.remote!;
    try {
      const res = await this.call(link, google, 'events.patch', () =>
        google.api.events.patch(
          { calendarId: link.calendarId, eventId: row.googleId, sendUpdates: 'none', requestBody: body },
          rs.etag ? { headers: { 'If-Match': rs.etag } } : {},
        ),
      );
      this.tools.counters.exported += 1;
      this.rows.save(row, { state: 'synced', remote: remoteOf(res.data, link.calendarTz, rs.ex, rs), failedLocal: null, error: null });
      return 'again';
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412 || failure.status === 410) return this.refetch(link, google, row);
      if (failure.status === 404) return this.rows.bumpGeneration(row);
      if (failure.kind === 'status') return this.fail(row, ours, failure);
      throw failure;
    }
  }

  private async patchException(
    link: LinkRow,
    google: GoogleClients,
    row: MirrorRow,
    ours: PartCanon,
    key: string,
    inst: RemoteException,
    target: ReturnType<typeof defaultsFor>,
  ): Promise<Step> {
    const rs = row.remote!;
    try {
      const res = await this.call(link, google, 'events.patch', () =>
        google.api.events.patch(
          { calendarId: link.calendarId, eventId: inst.id, sendUpdates: 'none', requestBody: occurrencePatch(target, inst.values, this.identity(row), inst.cancelled) },
          inst.etag ? { headers: { 'If-Match': inst.etag } } : {},
        ),
      );
      this.tools.counters.exported += 1;
      const next = structuredClone(rs);
      const cancelled = res.data.status === 'cancelled';
      next.ex[key] = {
        id: res.data.id ?? inst.id,
        etag: res.data.etag ?? '',
        updated: googleUpdated(res.data),
        cancelled,
        values: cancelled ? null : googleOccurrence(res.data, link.calendarTz),
      };
      this.rows.save(row, { remote: next });
      return 'again';
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412 || failure.status === 410) {
        if (!rs.ex[key]) {
          this.rows.save(row, { remote: { ...rs, ex: { ...rs.ex, [key]: inst } } });
          return this.refetch(link, google, { ...row, remote: { ...rs, ex: { ...rs.ex, [key]: inst } } }, key);
        }
        return this.refetch(link, google, row, key);
      }
      if (failure.status === 404) {
        const next = structuredClone(rs);
        delete next.ex[key];
        this.rows.save(row, { remote: next });
        return 'again';
      }
      if (failure.kind === 'status') return this.fail(row, ours, failure);
      throw failure;
    }
  }

  private async deleteException(link: LinkRow, google: GoogleClients, row: MirrorRow, ours: PartCanon, key: string, exception: RemoteException): Promise<Step> {
    const rs = row.remote!;
    try {
      await this.call(link, google, 'events.delete', () =>
        google.api.events.delete({ calendarId: link.calendarId, eventId: exception.id, sendUpdates: 'none' }, exception.etag ? { headers: { 'If-Match': exception.etag } } : {}),
      );
      this.tools.counters.exported += 1;
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412) return this.refetch(link, google, row, key);
      if (failure.status !== 404 && failure.status !== 410) {
        if (failure.kind === 'status') return this.fail(row, ours, failure);
        throw failure;
      }
    }
    this.rows.save(row, { remote: { ...rs, ex: { ...rs.ex, [key]: { ...exception, cancelled: true, values: null } } } });
    return 'again';
  }

  private async deletePart(link: LinkRow, google: GoogleClients, row: MirrorRow): Promise<void> {
    const rs = row.remote;
    try {
      await this.call(link, google, 'events.delete', () =>
        google.api.events.delete(
          { calendarId: link.calendarId, eventId: row.googleId, sendUpdates: 'none' },
          rs?.etag && row.state === 'synced' ? { headers: { 'If-Match': rs.etag } } : {},
        ),
      );
      this.tools.counters.exported += 1;
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412) {
        await this.refetch(link, google, row);
        return;
      }
      if (failure.status !== 404 && failure.status !== 410) {
        if (failure.kind === 'status') {
          this.rows.save(row, { error: `delete refused: ${failure.message}`.slice(0, 1000) });
          return;
        }
        throw failure;
      }
    }
    this.rows.save(row, { state: 'gone', remote: rs ? { ...rs, cancelled: true } : null });
  }
}
