/**
 * Installing the mirror into a Fastify app (kith-server), or running the worker alone.
 */
import type { FastifyInstance } from 'fastify';
import { isConfigured, type GoogleSyncHost, type GoogleSyncOptions } from './options.js';
import { registerGoogleRoutes } from './routes.js';
import { GoogleSyncWorker } from './worker.js';

export interface InstalledGoogleSync {
  /** The worker, or null when Google is not configured (the routes then answer 503 GOOGLE_NOT_CONFIGURED). */
  readonly worker: GoogleSyncWorker | null;
  /** Graceful stop: lets cycles in flight finish (bounded), closes the state file. */
  close(): Promise<void>;
}

/**
 * Mounts the Google routes on `app` (call before `listen`) and, when Google credentials are configured,
 * starts the mirror worker for every linked room.
 */
export async function installGoogleSync(app: FastifyInstance, host: GoogleSyncHost, options: GoogleSyncOptions): Promise<InstalledGoogleSync> {
  const worker = isConfigured(options) ? new GoogleSyncWorker(host, options) : null;
  await registerGoogleRoutes(app, worker);
  try {
    await worker?.start();
  } catch (err) {
    await worker?.close().catch(() => undefined);
    throw err;
  }
  return {
    worker,
    close: async () => {
      await worker?.close();
    },
  };
}
