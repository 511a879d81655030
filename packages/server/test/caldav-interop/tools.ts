/**
 * The clients and reference server nobody here wrote, as Debian ships them: `radicale`,
 * `python3-caldav` and `vdirsyncer`. They run under Debian's own /usr/bin/python3 (a python3
 * earlier on PATH, e.g. pyenv's, does not see Debian's modules). When one is missing the suites
 * skip and say which; with KITH_REQUIRE_SERVICES=1 (CI) they fail instead (.ci/run installs them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { radicaleAvailable } from '@kith/test-support';

export const PYTHON = '/usr/bin/python3';
export const VDIRSYNCER = '/usr/bin/vdirsyncer';

function pythonHas(module: string): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** What is missing, as a sentence for the skip message; '' when every tool is there. */
export function missingTools(needs: { radicale?: boolean; caldav?: boolean; vdirsyncer?: boolean }): string {
  const missing: string[] = [];
  if (needs.radicale && !radicaleAvailable()) missing.push('radicale');
  if (needs.caldav && !pythonHas('caldav')) missing.push('python3-caldav');
  if (needs.vdirsyncer && !existsSync(VDIRSYNCER)) missing.push('vdirsyncer');
  return missing.length ? `needs Debian's ${missing.join(', ')} (apt-get install ${missing.join(' ')})` : '';
}
