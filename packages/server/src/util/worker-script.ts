import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A worker thread's script. Workers run compiled JavaScript: the file next to the caller when the
 * caller is itself compiled, else (tests run the TypeScript sources) the same file under dist/.
 */
export function workerScript(callerUrl: string, sibling: string, fromDist: string): URL {
  const next = new URL(sibling, callerUrl);
  if (existsSync(fileURLToPath(next))) return next;
  return new URL(fromDist, callerUrl);
}
