/**
 * WebDAV XML: a namespace-aware reader (saxes) that builds a small element tree, and the writer
 * helpers for multistatus answers. DOCTYPEs are refused outright: no DTD, so no external entity
 * (XXE) and no entity expansion ("billion laughs") can ever be processed; saxes itself knows only
 * the five predefined entities and refuses any other reference.
 */
import { SaxesParser } from 'saxes';

export const NS = {
  DAV: 'DAV:',
  CALDAV: 'urn:ietf:params:xml:ns:caldav',
  CS: 'http://calendarserver.org/ns/',
  APPLE: 'http://apple.com/ns/ical/',
} as const;

export interface XmlElement {
  ns: string;
  name: string;
  children: XmlElement[];
  text: string;
  /** Attributes without a namespace, by name (CalDAV's `name`, `start`, `end`). */
  attrs: Record<string, string>;
}

/** Bounds on a request body's shape, beyond its byte size (checked by the route): a multiget of 10,000 hrefs fits. */
const MAX_ELEMENTS = 50_000;
const MAX_DEPTH = 32;

export class XmlRefused extends Error {}

/** Parses a DAV request body; throws XmlRefused (its message is safe to show) for anything else. */
export function parseXml(body: string, maxElements = MAX_ELEMENTS): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let failure: string | undefined;
  parser.on('doctype', () => {
    throw new XmlRefused('DOCTYPE declarations are not accepted');
  });
  parser.on('error', (err) => {
    failure ??= err.message.replace(/[\u0000-\u001F\u007F]/g, ' ').slice(0, 200);
  });
  parser.on('opentag', (tag) => {
    if (++count > maxElements) throw new XmlRefused(`the body has more than ${maxElements} elements`);
    if (stack.length >= MAX_DEPTH) throw new XmlRefused(`the body nests deeper than ${MAX_DEPTH} elements`);
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) if (!a.uri) attrs[a.local] = a.value;
    const el: XmlElement = { ns: tag.uri ?? '', name: tag.local ?? tag.name, children: [], text: '', attrs };
    if (stack.length > 0) stack.at(-1)!.children.push(el);
    else root ??= el;
    stack.push(el);
  });
  parser.on('text', (t) => {
    const top = stack.at(-1);
    if (top && top.text.length < 10_000) top.text += t;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(body).close();
  } catch (err) {
    if (err instanceof XmlRefused) throw err;
    failure ??= 'the body is not well-formed XML';
  }
  if (failure !== undefined) throw new XmlRefused(`the body is not well-formed XML: ${failure}`);
  if (!root) throw new XmlRefused('the body has no root element');
  return root;
}

export const child = (el: XmlElement | undefined, ns: string, name: string): XmlElement | undefined =>
  el?.children.find((c) => c.ns === ns && c.name === name);

export const childrenNamed = (el: XmlElement | undefined, ns: string, name: string): XmlElement[] =>
  el?.children.filter((c) => c.ns === ns && c.name === name) ?? [];

// ---------------------------------------------------------------------------------------------
// Writing

const PREFIX: Record<string, string> = { [NS.DAV]: 'D', [NS.CALDAV]: 'C', [NS.CS]: 'CS', [NS.APPLE]: 'A' };
const DECLS = Object.entries(PREFIX)
  .map(([ns, p]) => `xmlns:${p}="${ns}"`)
  .join(' ');

const ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

/**
 * Text for an element or attribute: markup escaped, and every character XML 1.0 cannot carry at all
 * (C0 controls but tab, LF and CR; lone surrogates; U+FFFE, U+FFFF) written as U+FFFD. A stored
 * title or room name holding one made the whole multistatus malformed, and clients refuse it all.
 */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']|[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, (c) => ESCAPES[c] ?? '\uFFFD');
}

/** A property name as a key: `ns|name`. */
export const key = (ns: string, name: string): string => `${ns}|${name}`;

/** `<p:name>inner</p:name>` for a known namespace, or with its own xmlns declaration otherwise. */
export function el(ns: string, name: string, inner = ''): string {
  const p = PREFIX[ns];
  // A name in no namespace is written unprefixed with the default namespace undone: binding a
  // prefix to "" is not XML (strict parsers refuse the whole multistatus).
  const open = p ? `${p}:${name}` : ns === '' ? `${name} xmlns=""` : `X:${name} xmlns:X="${escapeXml(ns)}"`;
  const close = p ? `${p}:${name}` : ns === '' ? name : `X:${name}`;
  return inner === '' ? `<${open}/>` : `<${open}>${inner}</${close}>`;
}

export const d = (name: string, inner = ''): string => el(NS.DAV, name, inner);

export function document(rootNs: string, rootName: string, inner: string): string {
  const p = PREFIX[rootNs]!;
  return `<?xml version="1.0" encoding="utf-8"?>\n<${p}:${rootName} ${DECLS}>${inner}</${p}:${rootName}>`;
}

/** One `<D:response>` with found properties (200) and missing ones (404). */
export function response(href: string, found: string[], missing: Array<{ ns: string; name: string }>): string {
  let inner = d('href', escapeXml(href));
  if (found.length > 0) inner += d('propstat', d('prop', found.join('')) + d('status', 'HTTP/1.1 200 OK'));
  if (missing.length > 0) {
    inner += d('propstat', d('prop', missing.map((m) => el(m.ns, m.name)).join('')) + d('status', 'HTTP/1.1 404 Not Found'));
  }
  return d('response', inner);
}

/** A `<D:response>` with a bare status (a deleted member of a sync-collection, an unknown multiget href). */
export function statusResponse(href: string, status: string): string {
  return d('response', d('href', escapeXml(href)) + d('status', `HTTP/1.1 ${status}`));
}
