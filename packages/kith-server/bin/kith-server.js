#!/usr/bin/env node
// The installed command. It is a file of its own, not dist/cli.js itself, because pnpm links
// commands when it installs, before `pnpm build` has made dist/ (it warned "Failed to create bin").
const cli = new URL('../dist/cli.js', import.meta.url);
try {
  await import(cli.href);
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(cli.pathname)) {
    process.stderr.write('kith-server is not built yet: run `pnpm build` in the repository first.\n');
    process.exit(1);
  }
  throw err;
}
