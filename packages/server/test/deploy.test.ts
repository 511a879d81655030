/**
 * Deployment files (Dockerfile, .dockerignore, deploy/): checks that run offline on this machine.
 *
 * - Dockerfile: a structural lint (hadolint is in neither Debian bookworm nor the npm registry;
 *   it runs too when it is on PATH), and its HEALTHCHECK command run against a stub server.
 * - deploy/k8s: `kubectl kustomize` renders the base, and an overlay that replaces the Secret.
 * - deploy/nginx/nginx.conf: `nginx -t`, and a real nginx in front of two stub instances on
 *   loopback: WebSocket upgrade, room affinity, failover, and logs without tokens.
 * - deploy/docker-compose.yml: `docker compose config` (or Debian's `docker-compose config`),
 *   which needs no Docker engine.
 *
 * A missing tool skips its tests with a message; with KITH_REQUIRE_SERVICES=1 (CI) it fails them.
 * Debian packages: kubectl (preinstalled on this machine kind), nginx, docker-compose.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { freePort, requireServices } from '@kith/test-support';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const DOCKERIGNORE = path.join(ROOT, '.dockerignore');
const K8S_DIR = path.join(ROOT, 'deploy', 'k8s');
const NGINX_CONF = path.join(ROOT, 'deploy', 'nginx', 'nginx.conf');
const COMPOSE_FILE = path.join(ROOT, 'deploy', 'docker-compose.yml');
// The package of the kith-server binary (the core with its built-in modules).
const SERVER_PACKAGE = path.join(ROOT, 'packages', 'kith-server', 'package.json');

// ---------------------------------------------------------------------------------------------
// tools

function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdoutToNull?: boolean } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: options.env ?? process.env,
    stdio: ['ignore', options.stdoutToNull ? 'ignore' : 'pipe', 'pipe'],
  });
}

/** Absolute path of a command on PATH (or in the sbin folders, where Debian puts nginx). */
function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface Tool {
  name: string;
  /** The command and leading arguments, when the tool is there. */
  argv: string[] | undefined;
  install: string;
}

const kubectl: Tool = {
  name: 'kubectl',
  argv: which('kubectl') ? [which('kubectl')!] : undefined,
  install: 'kubectl >= 1.21 with its built-in kustomize; the node-svc machine image ships one (Debian\'s kubernetes-client is 1.20, too old)',
};
const nginx: Tool = {
  name: 'nginx',
  argv: which('nginx') ? [which('nginx')!] : undefined,
  install: 'apt-get install -y nginx',
};
/** Compose v2 (`docker compose`) when the plugin is there, else Debian's `docker-compose` (v1). */
const compose: Tool = {
  name: 'docker compose',
  argv: (() => {
    const docker = which('docker');
    if (docker && run(docker, ['compose', 'version']).status === 0) return [docker, 'compose'];
    const v1 = which('docker-compose');
    return v1 ? [v1] : undefined;
  })(),
  install: 'apt-get install -y docker-compose',
};
const hadolint = which('hadolint');

const warned = new Set<string>();
/** Skips the test when the tool is missing, or fails it under KITH_REQUIRE_SERVICES=1. */
function needTool(ctx: { skip: (note?: string) => never }, tool: Tool): string[] {
  if (tool.argv) return tool.argv;
  const message = `${tool.name} is not installed (${tool.install})`;
  if (requireServices) throw new Error(`${message}, and KITH_REQUIRE_SERVICES=1 requires it`);
  if (!warned.has(tool.name)) {
    warned.add(tool.name);
    console.warn(`${message}: skipping its deployment checks. Set KITH_REQUIRE_SERVICES=1 to fail instead.`);
  }
  return ctx.skip(message);
}

function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------------
// tiny readers for the YAML that kubectl and compose print (normalized block style)

/** YAML documents of a multi-document stream. */
function yamlDocs(text: string): string[] {
  return text.split(/^---\s*$/m).map((d) => d.trim()).filter(Boolean);
}

/**
 * The first line matching `key` and every line below it that belongs to it (more indented, or
 * a sequence item at the same indent, as go-yaml prints sequences).
 */
function block(text: string, key: RegExp): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => key.test(l));
  if (start === -1) return '';
  const indent = lines[start]!.search(/\S/);
  const out = [lines[start]!];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') continue;
    const i = line.search(/\S/);
    if (i < indent || (i === indent && !line.slice(i).startsWith('- '))) break;
    out.push(line);
  }
  return out.join('\n');
}

const kindOf = (doc: string) => /^kind: (\S+)$/m.exec(doc)?.[1];

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** Instructions with continuation lines joined and comments dropped; stage counts FROMs (-1 before the first). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args: m[2]!, stage });
  }
  return out;
}

describe('Dockerfile', () => {
  const text = fs.readFileSync(DOCKERFILE, 'utf8');
  const all = parseDockerfile(text);
  const froms = all.filter((i) => i.keyword === 'FROM');
  const finalStage = froms.length - 1;
  const inFinal = (keyword: string) => all.filter((i) => i.stage === finalStage && i.keyword === keyword);
  const inStage = (stage: number, keyword: string) => all.filter((i) => i.stage === stage && i.keyword === keyword);
  const globalArgs = new Map(
    all
      .filter((i) => i.stage === -1 && i.keyword === 'ARG')
      .map((i) => {
        const [name, value = ''] = i.args.split('=', 2) as [string, string?];
        return [name.trim(), value.trim()] as const;
      }),
  );
  const resolve = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs.get(name) ?? '');

  it('is multi-stage on Node 20 bookworm-slim: a build stage, then a runtime stage that copies from it', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) {
      const image = resolve(from.args.split(/\s+/)[0]!);
      expect(image, from.args).toMatch(/^node:20(\.\d+)*-bookworm-slim$/);
    }
    const buildName = /\bAS\s+(\S+)/i.exec(froms[0]!.args)?.[1];
    expect(buildName).toBeTruthy();
    expect(inFinal('COPY').some((c) => c.args.includes(`--from=${buildName}`))).toBe(true);
    expect(text).not.toMatch(/:latest\b/);
    expect(all.some((i) => i.keyword === 'ADD'), 'COPY, not ADD').toBe(false);
  });

  it('builds with the native toolchain, a frozen lockfile and a production-only deploy of the kith-server package', () => {
    const runs = inStage(0, 'RUN').map((r) => r.args).join('\n');
    expect(runs).toMatch(/apt-get install[^\n]*-y/);
    expect(runs).toMatch(/apt-get install[^\n]*--no-install-recommends/);
    for (const pkg of ['python3', 'make', 'g++']) expect(runs).toContain(` ${pkg}`);
    expect(runs).toContain('rm -rf /var/lib/apt/lists');
    const pnpmMajor = /"packageManager":\s*"pnpm@(\d+)\./.exec(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))?.[1];
    expect(runs).toMatch(new RegExp(`(npm (i|install) -g pnpm@${pnpmMajor}|corepack)`));
    expect(runs).toMatch(/pnpm install --frozen-lockfile/);
    expect(runs).toMatch(/pnpm build/);
    expect(runs).toMatch(/pnpm [^\n]*--filter kith-server deploy --prod \/out/);
    expect(inFinal('RUN').map((r) => r.args).join('\n')).not.toMatch(/apt-get|pnpm|npm install/);
  });

  it('fixes glibc\'s mmap threshold as every other shipped way of starting the server does (docs/deploy.md, "Memory")', () => {
    const setting = /\bMALLOC_MMAP_THRESHOLD_=(\d+)\b/;
    const env = inFinal('ENV').map((e) => e.args).join(' ');
    const value = setting.exec(env)?.[1];
    expect(value, 'the runtime stage sets MALLOC_MMAP_THRESHOLD_').toBe('131072');
    const systemd = fs.readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
    expect(setting.exec(systemd.slice(systemd.indexOf('[Service]')))?.[1], 'the systemd unit').toBe(value);
    const start = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    expect(setting.exec(start)?.[1], 'pnpm start').toBe(value);
    const bench = fs.readFileSync(path.join(ROOT, 'bench', 'src', 'servers.ts'), 'utf8');
    expect(/MALLOC_MMAP_THRESHOLD_: '(\d+)'/.exec(bench)?.[1], 'the bench runs Kith as shipped').toBe(value);
  });

  it('runs as a non-root user with HOST=0.0.0.0, port 8080 and a /data volume', () => {
    const user = inFinal('USER').at(-1)?.args.split(':')[0];
    expect(user, 'the runtime stage sets USER').toBeTruthy();
    expect(['root', '0']).not.toContain(user);
    const env = inFinal('ENV').map((e) => e.args).join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bKITH_DATA_DIR=\/data\b/);
    expect(inFinal('EXPOSE').map((e) => e.args).join(' ')).toMatch(/\b8080\b/);
    expect(inFinal('VOLUME').map((v) => v.args).join(' ')).toContain('/data');
    expect(inFinal('STOPSIGNAL').at(-1)?.args).toBe('SIGTERM');
  });

  it('starts the server binary with node directly (exec form), at the path the build stage copied it to', () => {
    const cmd = JSON.parse(inFinal('CMD').at(-1)!.args) as string[];
    expect(cmd[0]).toBe('node');
    const bin = (JSON.parse(fs.readFileSync(SERVER_PACKAGE, 'utf8')) as { bin: Record<string, string> }).bin['kith-server']!;
    const copy = inFinal('COPY').find((c) => /\s\/out\s/.test(` ${c.args} `));
    expect(copy, 'COPY --from=build /out <dest>').toBeTruthy();
    const dest = copy!.args.split(/\s+/).at(-1)!;
    expect(cmd[1]).toBe(path.posix.join(dest, bin));
  });

  it('has a HEALTHCHECK on /healthz with Node fetch (the slim image has no curl)', () => {
    const hc = inFinal('HEALTHCHECK').at(-1)?.args ?? '';
    expect(hc).toContain('/healthz');
    expect(hc).toMatch(/CMD \["node"/);
    expect(hc).not.toMatch(/curl|wget/);
  });

  it('the HEALTHCHECK command exits 0 when /healthz answers 200 and 1 otherwise', async () => {
    const hc = inFinal('HEALTHCHECK').at(-1)!.args;
    const argv = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
    expect(argv[0]).toBe('node');
    let status = 200;
    const seen: string[] = [];
    const stub = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const port = (stub.address() as net.AddressInfo).port;
    const check = (p: number) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, argv.slice(1), { env: { ...process.env, PORT: String(p) }, stdio: 'ignore' });
        child.on('exit', (code) => resolve(code));
      });
    try {
      expect(await check(port)).toBe(0);
      status = 503;
      expect(await check(port)).toBe(1);
      expect(seen).toEqual(['/healthz', '/healthz']);
    } finally {
      await new Promise((r) => stub.close(r));
    }
    expect(await check(port), 'nothing listening').toBe(1);
  });

  it('.dockerignore keeps node_modules, build output, data and .git out of the context', () => {
    const entries = fs
      .readFileSync(DOCKERIGNORE, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const wanted of ['node_modules', 'dist', 'data', '.git']) {
      expect(entries.some((e) => e === wanted || e === `**/${wanted}`), wanted).toBe(true);
    }
  });

  it.skipIf(!hadolint)('passes hadolint (when installed; it is in neither Debian nor npm)', () => {
    const r = run(hadolint!, [DOCKERFILE]);
    expect(r.stdout + r.stderr, 'hadolint findings').toBe('');
    expect(r.status).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

describe('deploy/k8s (kustomize)', () => {
  const render = (dir: string) => {
    const r = run(kubectl.argv![0]!, [...kubectl.argv!.slice(1), 'kustomize', dir]);
    expect(r.status, r.stderr).toBe(0);
    return yamlDocs(r.stdout);
  };
  const byKind = (docs: string[], kind: string) => {
    const doc = docs.find((d) => kindOf(d) === kind);
    expect(doc, `a ${kind}`).toBeTruthy();
    return doc!;
  };

  it('renders every expected kind', (ctx) => {
    needTool(ctx, kubectl);
    const kinds = render(K8S_DIR).map(kindOf).sort();
    for (const kind of ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'PodDisruptionBudget', 'Secret', 'Service']) {
      expect(kinds).toContain(kind);
    }
  });

  it('Deployment: 2+ replicas, probes on /readyz and /healthz, preStop drain, limits, non-root, env from ConfigMap and Secret', (ctx) => {
    needTool(ctx, kubectl);
    const d = byKind(render(K8S_DIR), 'Deployment');
    expect(Number(/^ {2}replicas: (\d+)$/m.exec(d)?.[1])).toBeGreaterThanOrEqual(2);
    expect(block(d, /^\s+readinessProbe:$/)).toMatch(/path: \/readyz$/m);
    expect(block(d, /^\s+livenessProbe:$/)).toMatch(/path: \/healthz$/m);
    const sleep = Number(/- sleep\n\s*- "?(\d+)"?/.exec(block(d, /^\s+preStop:$/))?.[1]);
    expect(sleep).toBeGreaterThan(0);
    // The grace period covers the preStop sleep plus kith-server's own drain.
    expect(Number(/terminationGracePeriodSeconds: (\d+)/.exec(d)?.[1])).toBeGreaterThanOrEqual(sleep + 15);
    const resources = block(d, /^\s+resources:$/);
    expect(block(resources, /^\s+requests:$/)).toMatch(/cpu: \S+[\s\S]*memory: \S+/);
    expect(block(resources, /^\s+limits:$/)).toMatch(/memory: \S+/);
    expect(d).toMatch(/runAsNonRoot: true/);
    expect(d).toMatch(/allowPrivilegeEscalation: false/);
    expect(block(d, /^\s+- configMapRef:$/)).toMatch(/name: kith-config/);
    expect(block(d, /^\s+- secretRef:$/)).toMatch(/name: kith-secrets/);
    expect(d).toMatch(/containerPort: 8080/);
  });

  it('Service, Ingress (WebSocket timeouts, hashing on the path), HPA (autoscaling/v2, CPU) and PDB', (ctx) => {
    needTool(ctx, kubectl);
    const docs = render(K8S_DIR);
    expect(byKind(docs, 'Service')).toMatch(/targetPort: http/);
    const ingress = byKind(docs, 'Ingress');
    expect(Number(/proxy-read-timeout: "(\d+)"/.exec(ingress)?.[1])).toBeGreaterThanOrEqual(3600);
    expect(Number(/proxy-send-timeout: "(\d+)"/.exec(ingress)?.[1])).toBeGreaterThanOrEqual(3600);
    // $uri has no query string: /sync/<roomId> for sockets, and never the ?token=.
    expect(ingress).toMatch(/upstream-hash-by: \$uri$/m);
    const hpa = byKind(docs, 'HorizontalPodAutoscaler');
    expect(hpa).toMatch(/^apiVersion: autoscaling\/v2$/m);
    expect(Number(/minReplicas: (\d+)/.exec(hpa)?.[1])).toBeGreaterThanOrEqual(2);
    expect(hpa).toMatch(/name: cpu/);
    const pdb = byKind(docs, 'PodDisruptionBudget');
    expect(pdb).toMatch(/^apiVersion: policy\/v1$/m);
  });

  it('the Secret is a template: placeholders only, and a JWT placeholder too short to be accepted', (ctx) => {
    needTool(ctx, kubectl);
    const secret = byKind(render(K8S_DIR), 'Secret');
    const values = block(secret, /^stringData:$/).split('\n').slice(1);
    expect(values.length).toBeGreaterThanOrEqual(3);
    for (const line of values) expect(line).toContain('REPLACE-ME');
    const jwt = /KITH_JWT_SECRET: "?([^"\n]*)"?$/m.exec(secret)?.[1] ?? '';
    expect(jwt.length, 'kith-server refuses secrets under 32 characters').toBeLessThan(32);
    const config = byKind(render(K8S_DIR), 'ConfigMap');
    expect(config).toMatch(/HOST: 0\.0\.0\.0/);
    expect(config).not.toMatch(/SECRET|DATABASE_URL|REDIS_URL/);
  });

  it('an overlay replaces the Secret and the image (as docs/deploy.md shows)', (ctx) => {
    needTool(ctx, kubectl);
    const dir = tmpDir('kith-overlay-');
    try {
      fs.writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'namespace: kith',
          'resources:',
          `  - ${path.relative(dir, K8S_DIR)}`,
          'images:',
          '  - name: kith-server',
          '    newName: registry.example.com/kith/kith-server',
          '    newTag: "1.2.3"',
          'secretGenerator:',
          '  - name: kith-secrets',
          '    behavior: replace',
          '    envs:',
          '      - secrets.env',
          '',
        ].join('\n'),
      );
      fs.writeFileSync(
        path.join(dir, 'secrets.env'),
        `KITH_JWT_SECRET=${'s'.repeat(48)}\nDATABASE_URL=postgres://kith:pw@db:5432/kith\nREDIS_URL=redis://redis:6379\n`,
      );
      const docs = render(dir);
      const secret = byKind(docs, 'Secret');
      expect(block(secret, /^data:$/)).toMatch(/KITH_JWT_SECRET: \S+/);
      expect(secret).not.toMatch(/stringData/);
      expect(secret).toMatch(/name: kith-secrets$/m);
      expect(byKind(docs, 'Deployment')).toMatch(/image: registry\.example\.com\/kith\/kith-server:1\.2\.3/);
      for (const doc of docs) expect(doc).toMatch(/namespace: kith$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// nginx gateway

/**
 * nginx resolves upstream host names when it reads its configuration, `nginx -t` included, and
 * kith-1/kith-2 exist only on the compose network. So the copies nginx reads here differ from
 * the file in exactly the lines replaced below, each of which must match exactly once.
 */
function renderGatewayConf(replace: {
  'kith-1'?: string;
  'kith-2'?: string;
  listen?: string;
  accessLog?: string;
  /** Folder for nginx's temporary files (its compiled-in ones need root). */
  tempDir?: string;
}): string {
  let conf = fs.readFileSync(NGINX_CONF, 'utf8');
  const swap = (from: RegExp, to: string) => {
    expect(conf.match(new RegExp(from.source, 'gm'))?.length, String(from)).toBe(1);
    conf = conf.replace(from, to);
  };
  if (replace['kith-1']) swap(/server kith-1:8080\b/m, `server ${replace['kith-1']}`);
  if (replace['kith-2']) swap(/server kith-2:8080\b/m, `server ${replace['kith-2']}`);
  if (replace.listen) swap(/^(\s*)listen 8080;$/m, `$1listen ${replace.listen};`);
  if (replace.accessLog) swap(/access_log \/dev\/stdout kith;/m, `access_log ${replace.accessLog} kith;`);
  if (replace.tempDir) {
    const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((t) => `    ${t}_temp_path ${path.join(replace.tempDir!, t)};`)
      .join('\n');
    swap(/^http \{$/m, `http {\n${temps}`);
  }
  return conf;
}

/** A stand-in kith-server instance: HTTP answers and WebSocket greetings say which one it is. */
async function stubInstance(name: string) {
  const sockets = new Set<WebSocket>();
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({ instance: name, url: req.url, xff: req.headers['x-forwarded-for'], host: req.headers.host }),
    );
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.send(JSON.stringify({ instance: name, url: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    port: (server.address() as net.AddressInfo).port,
    async stop() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('deploy/nginx/nginx.conf', () => {
  it('passes nginx -t (upstream hosts rendered as 127.0.0.1)', (ctx) => {
    const [bin] = needTool(ctx, nginx);
    const dir = tmpDir('kith-nginx-t-');
    try {
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(conf, renderGatewayConf({ 'kith-1': '127.0.0.1:8080', 'kith-2': '127.0.0.2:8080', tempDir: dir }));
      // stdout to /dev/null: nginx -t opens `access_log /dev/stdout`, which fails on the socket
      // that Node would otherwise give it (in a container, stdout is a pipe or a tty).
      const r = run(bin!, ['-t', '-q', '-e', 'stderr', '-g', `pid ${path.join(dir, 'nginx.pid')};`, '-c', conf], {
        stdoutToNull: true,
      });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes nginx -t unmodified when kith-1 and kith-2 resolve (private mount namespace with its own /etc/hosts)', (ctx) => {
    const [bin] = needTool(ctx, nginx);
    const unshare = which('unshare');
    const allowed = unshare && run(unshare, ['--mount', 'true']).status === 0;
    if (!allowed) return ctx.skip('unshare --mount is not permitted here; the rendered copy above covers the syntax');
    const dir = tmpDir('kith-nginx-hosts-');
    try {
      const hosts = path.join(dir, 'hosts');
      fs.writeFileSync(hosts, '127.0.0.1 localhost\n127.0.0.1 kith-1\n127.0.0.2 kith-2\n');
      // The bind mount exists only inside the new namespace; the machine's /etc/hosts is untouched.
      const r = run(unshare!, [
        '--mount',
        'sh',
        '-c',
        'mount --bind "$1" /etc/hosts && exec "$2" -t -q -e stderr -c "$3"',
        'sh',
        hosts,
        bin!,
        NGINX_CONF,
      ], { stdoutToNull: true });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('in front of two instances on loopback', () => {
    let dir = '';
    let gateway: ChildProcess | undefined;
    let gatewayPort = 0;
    let accessLog = '';
    let instances: Array<Awaited<ReturnType<typeof stubInstance>>> = [];
    let skipReason: string | undefined;

    beforeAll(async () => {
      if (!nginx.argv) {
        skipReason = `${nginx.name} is not installed (${nginx.install})`;
        return;
      }
      dir = tmpDir('kith-gateway-');
      instances = [await stubInstance('kith-1'), await stubInstance('kith-2')];
      gatewayPort = await freePort();
      accessLog = path.join(dir, 'access.log');
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(
        conf,
        renderGatewayConf({
          'kith-1': `127.0.0.1:${instances[0]!.port}`,
          'kith-2': `127.0.0.1:${instances[1]!.port}`,
          listen: `127.0.0.1:${gatewayPort}`,
          accessLog,
          tempDir: dir,
        }),
      );
      const stderr: string[] = [];
      gateway = spawn(
        nginx.argv[0]!,
        ['-c', conf, '-e', path.join(dir, 'error.log'), '-g', `daemon off; pid ${path.join(dir, 'nginx.pid')};`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      gateway.stderr!.on('data', (b: Buffer) => stderr.push(b.toString()));
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${gatewayPort}/gateway/healthz`);
          if (res.ok) break;
        } catch {
          // not up yet
        }
        if (gateway.exitCode !== null || Date.now() > deadline) {
          throw new Error(`nginx did not start: ${stderr.join('')}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    afterAll(async () => {
      if (gateway && gateway.exitCode === null) {
        const exited = new Promise((r) => gateway!.once('exit', r));
        gateway.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (gateway.exitCode === null) gateway.kill('SIGKILL');
      }
      for (const i of instances) await i.stop().catch(() => undefined);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const gatewayUp = (ctx: { skip: (note?: string) => never }) => {
      if (skipReason) needTool(ctx, nginx);
    };

    /** Opens /sync/<room>?token=… through the gateway and returns which instance greeted. */
    const syncVia = (room: string, token = 'SECRET-TOKEN-do-not-log') =>
      new Promise<{ instance: string; url: string }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gatewayPort}/sync/${room}?token=${token}`);
        const timer = setTimeout(() => {
          ws.terminate();
          reject(new Error(`no greeting for ${room}`));
        }, 5_000);
        ws.once('message', (data) => {
          clearTimeout(timer);
          ws.close();
          resolve(JSON.parse(String(data)) as { instance: string; url: string });
        });
        ws.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });

    it('upgrades /sync/:roomId to a WebSocket and passes the query string through', async (ctx) => {
      gatewayUp(ctx);
      const hello = await syncVia('room-a', 'tok123');
      expect(['kith-1', 'kith-2']).toContain(hello.instance);
      expect(hello.url).toBe('/sync/room-a?token=tok123');
    });

    it('sends every socket of a room to the same instance, and spreads rooms over both', async (ctx) => {
      gatewayUp(ctx);
      const first = await syncVia('family-room');
      for (let i = 0; i < 5; i++) expect((await syncVia('family-room', `t${i}`)).instance).toBe(first.instance);
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) seen.add((await syncVia(`room-${i}`)).instance);
      expect([...seen].sort()).toEqual(['kith-1', 'kith-2']);
    });

    it('proxies REST with X-Forwarded-For and the Host header', async (ctx) => {
      gatewayUp(ctx);
      const res = await fetch(`http://127.0.0.1:${gatewayPort}/rooms/abc?limit=5`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { url: string; xff: string; host: string };
      expect(body.url).toBe('/rooms/abc?limit=5');
      expect(body.xff).toBe('127.0.0.1');
      expect(body.host).toBe(`127.0.0.1:${gatewayPort}`);
      expect((await fetch(`http://127.0.0.1:${gatewayPort}/metrics`)).status, '/metrics from loopback').toBe(200);
    });

    it('logs paths without query strings (tokens) and with invite codes redacted', async (ctx) => {
      gatewayUp(ctx);
      await syncVia('logged-room', 'SECRET-TOKEN-in-query');
      await (await fetch(`http://127.0.0.1:${gatewayPort}/invites/INVITECODE12345/accept?token=SECRET-TOKEN-rest`, { method: 'POST' })).text();
      await (await fetch(`http://127.0.0.1:${gatewayPort}/invite/INVITECODE67890`)).text();
      const log = fs.readFileSync(accessLog, 'utf8');
      expect(log).toContain('"path":"/sync/logged-room"');
      expect(log).toContain('"path":"/invites/[redacted]/accept"');
      expect(log).toContain('"path":"/invite/[redacted]"');
      expect(log).not.toMatch(/SECRET-TOKEN|INVITECODE|token=/);
      for (const line of log.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    });

    it('fails over: with the room’s instance down, its sockets reach the other one', async (ctx) => {
      gatewayUp(ctx);
      const before = (await syncVia('failover-room')).instance;
      const down = instances.find((i) => i.name === before)!;
      await down.stop();
      for (let i = 0; i < 3; i++) expect((await syncVia('failover-room')).instance).not.toBe(before);
      const res = await fetch(`http://127.0.0.1:${gatewayPort}/rooms`);
      expect(res.status).toBe(200);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// docker compose

describe('deploy/docker-compose.yml', () => {
  const jwt = 'compose-test-secret-0123456789abcdef0123456789';
  const config = (env: Record<string, string | undefined>) => {
    const dir = tmpDir('kith-compose-');
    try {
      // An empty env file, so a developer's deploy/.env does not leak into the check.
      const envFile = path.join(dir, 'empty.env');
      fs.writeFileSync(envFile, '');
      const base = { ...process.env };
      for (const k of ['KITH_JWT_SECRET', 'POSTGRES_PASSWORD', 'KITH_IMAGE', 'KITH_HTTP_PORT', 'KITH_PUBLIC_URL', 'LOG_LEVEL', 'COMPOSE_PROJECT_NAME']) delete base[k];
      const [bin, ...pre] = compose.argv!;
      return run(bin!, [...pre, '--env-file', envFile, '-f', COMPOSE_FILE, 'config'], { env: { ...base, ...env } as NodeJS.ProcessEnv });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const service = (out: string, name: string) => {
    const s = block(block(out, /^services:$/), new RegExp(`^ {2}${name}:$`));
    expect(s, `service ${name}`).not.toBe('');
    return s;
  };

  it('parses: two instances sharing one secret, PostgreSQL 15, Redis 7 and the nginx gateway', (ctx) => {
    needTool(ctx, compose);
    const r = config({ KITH_JWT_SECRET: jwt, POSTGRES_PASSWORD: 'pgpass123' });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    const images = new Set<string>();
    for (const name of ['kith-1', 'kith-2']) {
      const s = service(out, name);
      expect(s).toMatch(new RegExp(`KITH_JWT_SECRET: ${jwt}$`, 'm'));
      expect(s).toMatch(/DATABASE_URL: postgres:\/\/kith:pgpass123@postgres:5432\/kith$/m);
      expect(s).toMatch(/REDIS_URL: redis:\/\/redis:6379$/m);
      expect(s).toMatch(/HOST: 0\.0\.0\.0$/m);
      expect(block(s, /^\s+depends_on:$/)).toMatch(/postgres:[\s\S]*condition: service_healthy/);
      expect(s).toMatch(/\/readyz/);
      images.add(/^\s+image: (\S+)$/m.exec(s)?.[1] ?? '');
    }
    expect(images.size, 'same image').toBe(1);
    const pg = service(out, 'postgres');
    expect(pg).toMatch(/image: postgres:15\b/);
    expect(pg).toContain('/var/lib/postgresql/data');
    expect(pg).toContain('pg_isready');
    expect(service(out, 'redis')).toMatch(/image: redis:7\b/);
    const gw = service(out, 'gateway');
    expect(gw).toMatch(/image: nginx:/);
    expect(gw).toContain('/etc/nginx/nginx.conf');
    expect(gw).toMatch(/kith-1:[\s\S]*kith-2:/);
  });

  it('refuses to render without KITH_JWT_SECRET', (ctx) => {
    needTool(ctx, compose);
    const r = config({ POSTGRES_PASSWORD: 'pgpass123' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('KITH_JWT_SECRET');
  });

  it('agrees with the gateway: nginx upstreams are the compose instances on port 8080', () => {
    const conf = fs.readFileSync(NGINX_CONF, 'utf8');
    const upstreams = [...conf.matchAll(/^\s*server (\S+):(\d+)\b/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(upstreams).toEqual(['kith-1:8080', 'kith-2:8080']);
    const file = fs.readFileSync(COMPOSE_FILE, 'utf8');
    for (const name of ['kith-1', 'kith-2']) expect(file).toMatch(new RegExp(`^ {2}${name}:$`, 'm'));
    expect(file).toContain('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
  });
});
