/**
 * Options a module brings to the server's command line (e.g. the Google mirror's `--google-*`):
 * listed in `kith-server --help` with the core's, read the same way (flag, then environment
 * variable, then default), and known to the parser, so that a misspelt flag is still an error.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** One option: its environment variable and the help text shown by `--help`. */
export interface ConfigOption {
  env: string;
  help: string;
  /** A switch (`--access-log`, no value); its variable reads true/1/yes or false/0/no. */
  boolean?: boolean;
}

/** Reads one option at a time; errors name the flag or the variable the bad value came from. */
export interface OptionReader {
  /** The value (flag first, then environment), or undefined when unset or empty. */
  raw(name: string): string | undefined;
  /** `--name` if the value came from the flag, else the environment variable's name. */
  source(name: string): string;
  /** An integer >= min, or undefined when unset; throws ConfigError otherwise. */
  int(name: string, min: number): number | undefined;
  /** A switch: true when the flag is given or the variable says so, undefined when unset. */
  bool(name: string): boolean | undefined;
}

export interface ModuleOptions<T> {
  /** Flag names without `--`. */
  readonly options: Readonly<Record<string, ConfigOption>>;
  /** In `--help`, these options follow this core flag (default: after the core's). */
  readonly helpAfter?: string;
  /** Turns the values into the module's configuration; `core` is the server's, already parsed. */
  parse(read: OptionReader, core: { publicUrl: string | undefined; dataDir: string }): T;
}

/** The values that `parseArgs` gave, read through the option table (flag, then env). */
export function optionReader(
  options: Readonly<Record<string, ConfigOption>>,
  flags: Readonly<Record<string, string | boolean | undefined>>,
  env: NodeJS.ProcessEnv,
): OptionReader {
  const spec = (name: string): ConfigOption => {
    const o = options[name];
    if (!o) throw new Error(`unknown option ${name}`);
    return o;
  };
  const flagValue = (name: string) => {
    const v = flags[name];
    return v === true ? 'true' : v === false ? undefined : v;
  };
  const raw = (name: string): string | undefined => {
    const v = flagValue(name) ?? env[spec(name).env];
    return v === undefined || v === '' ? undefined : v;
  };
  const source = (name: string): string => {
    const flag = flagValue(name);
    return flag !== undefined && flag !== '' ? `--${name}` : spec(name).env;
  };
  const int = (name: string, min: number): number | undefined => {
    const v = raw(name);
    if (v === undefined) return undefined;
    const n = /^\s*$/.test(v) ? NaN : Number(v);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`${source(name)} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const bool = (name: string): boolean | undefined => {
    const v = raw(name)?.trim().toLowerCase();
    if (v === undefined) return undefined;
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(`${source(name)} must be true or false, got "${raw(name)}"`);
  };
  return { raw, source, int, bool };
}

/** `--help` lines of an option table. */
export function helpLines(options: Readonly<Record<string, ConfigOption>>): string[] {
  return Object.entries(options).map(([flag, o]) => `  --${flag.padEnd(24)} ${o.help}\n  ${' '.repeat(26)} env ${o.env}${o.boolean ? '=true' : ''}`);
}
