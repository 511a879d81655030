import type { JsonObject } from './calendar-data.js';
import { errors } from './errors.js';
import { isValidTimeZone, parseInstant } from './time.js';

/** Typed access to query parameters as Fastify parses them (strings, or arrays when repeated). */
export class QueryReader {
  constructor(private readonly q: JsonObject) {}

  private raw(name: string): string | string[] | undefined {
    const v = this.q[name];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map(String) : String(v);
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (Array.isArray(v)) return v[v.length - 1];
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw errors.invalidParameter(name, `Invalid boolean value: '${v}'.`);
  }

  maxResults(def: number): number {
    const v = this.string('maxResults');
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw errors.invalidParameter('maxResults', `Invalid value '${v}'. Values must be within the range: [1, 2500]`);
    }
    return Math.min(n, 2500);
  }

  instant(name: string): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const ms = parseInstant(v);
    if (ms === null) throw errors.badRequest('Bad Request', 'badRequest', 'global', { type: 'parameter', name });
    return ms;
  }

  timeZone(): string | undefined {
    const v = this.string('timeZone');
    if (v === undefined) return undefined;
    if (!isValidTimeZone(v)) throw errors.invalidParameter('timeZone', 'Invalid time zone definition.');
    return v;
  }

  propertyFilters(name: string): Array<[string, string]> {
    const v = this.raw(name);
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).map((s) => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw errors.invalidParameter(name, `Invalid ${name} value: '${s}'.`);
      return [s.slice(0, eq), s.slice(eq + 1)];
    });
  }
}
