/**
 * The CalDAV requests W8 times, as a phone's client sends them (plain fetch, HTTP Basic): discovery
 * (current-user-principal → calendar-home-set → the calendar by display name), PROPFIND depth 1,
 * calendar-multiget in batches, sync-collection, a time-range calendar-query, GET and PUT of one
 * object. Responses are read with prefix-tolerant patterns (servers choose their own namespace
 * prefixes); only hrefs, etags, sync tokens and status lines are needed.
 */
export interface DavAccount {
  origin: string;
  username: string;
  password: string;
}

const NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"';

export interface DavMember {
  href: string;
  etag: string | null;
  /** The member's status when the response has no propstat (sync-collection: 404 = deleted). */
  status: number | null;
}

function tagText(xml: string, local: string): string[] {
  const re = new RegExp(`<(?:[\\w-]+:)?${local}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[\\w-]+:)?${local}>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]!);
}

const unescapeXml = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The `<response>` elements of a multistatus: href, getetag, and a bare status if present. */
export function parseMultistatus(xml: string): DavMember[] {
  return tagText(xml, 'response').map((r) => {
    const href = decodeURIComponent(unescapeXml(tagText(r, 'href')[0]?.trim() ?? ''));
    const etag = tagText(r, 'getetag')[0];
    const bare = r.replace(/<(?:[\w-]+:)?propstat[\s\S]*?<\/(?:[\w-]+:)?propstat>/g, '');
    const status = /HTTP\/1\.1 (\d{3})/.exec(tagText(bare, 'status')[0] ?? '')?.[1];
    return { href, etag: etag ? unescapeXml(etag.trim()) : null, status: status ? Number(status) : null };
  });
}

export class DavClient {
  private readonly auth: string;
  constructor(readonly account: DavAccount) {
    this.auth = 'Basic ' + Buffer.from(`${account.username}:${account.password}`).toString('base64');
  }

  private url(hrefOrUrl: string): string {
    return /^https?:/.test(hrefOrUrl) ? hrefOrUrl : this.account.origin + hrefOrUrl;
  }

  async request(method: string, href: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
    const res = await fetch(this.url(href), {
      method,
      headers: { authorization: this.auth, ...(body !== undefined ? { 'content-type': method === 'PUT' ? 'text/calendar; charset=utf-8' : 'application/xml; charset=utf-8' } : {}), ...headers },
      body,
      redirect: 'manual',
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  private async multistatus(method: string, href: string, depth: string, body: string): Promise<string> {
    const res = await this.request(method, href, body, { depth });
    if (res.status !== 207) throw new Error(`${method} ${href}: ${res.status} ${res.text.slice(0, 300)}`);
    return res.text;
  }

  /** RFC 6764 / 5397 / 4791 discovery from the server's root; the calendar's href by display name. */
  async discover(displayName: string): Promise<string> {
    let start = '/.well-known/caldav';
    const wk = await this.request('PROPFIND', start, `<?xml version="1.0"?><D:propfind ${NS}><D:prop><D:current-user-principal/></D:prop></D:propfind>`, { depth: '0' });
    if (wk.status >= 300 && wk.status < 400) start = new URL(wk.headers.get('location')!, this.account.origin).pathname;
    const p = await this.multistatus('PROPFIND', start, '0', `<?xml version="1.0"?><D:propfind ${NS}><D:prop><D:current-user-principal/></D:prop></D:propfind>`);
    const principal = tagText(tagText(p, 'current-user-principal')[0] ?? '', 'href')[0]?.trim();
    if (!principal) throw new Error(`no current-user-principal at ${start}`);
    const h = await this.multistatus('PROPFIND', principal, '0', `<?xml version="1.0"?><D:propfind ${NS}><D:prop><C:calendar-home-set/></D:prop></D:propfind>`);
    const home = tagText(tagText(h, 'calendar-home-set')[0] ?? '', 'href')[0]?.trim();
    if (!home) throw new Error(`no calendar-home-set at ${principal}`);
    const list = await this.multistatus('PROPFIND', home, '1', `<?xml version="1.0"?><D:propfind ${NS}><D:prop><D:displayname/><D:resourcetype/></D:prop></D:propfind>`);
    for (const r of tagText(list, 'response')) {
      if (tagText(r, 'displayname')[0]?.trim() === displayName) return tagText(r, 'href')[0]!.trim();
    }
    throw new Error(`no calendar named ${displayName} under ${home}`);
  }

  /** PROPFIND depth 1 for getetag: the calendar's members. */
  async members(calendar: string): Promise<DavMember[]> {
    const xml = await this.multistatus('PROPFIND', calendar, '1', `<?xml version="1.0"?><D:propfind ${NS}><D:prop><D:getetag/><D:resourcetype/></D:prop></D:propfind>`);
    return parseMultistatus(xml).filter((m) => m.href.endsWith('.ics'));
  }

  /** calendar-multiget of `hrefs` in batches of `batch` (DAVx5 and Thunderbird fetch in batches too); returns objects received. */
  async multiget(calendar: string, hrefs: string[], batch = 100): Promise<number> {
    let received = 0;
    for (let i = 0; i < hrefs.length; i += batch) {
      const refs = hrefs.slice(i, i + batch).map((h) => `<D:href>${encodeURI(h).replace(/&/g, '&amp;')}</D:href>`).join('');
      const xml = await this.multistatus('REPORT', calendar, '1', `<?xml version="1.0"?><C:calendar-multiget ${NS}><D:prop><D:getetag/><C:calendar-data/></D:prop>${refs}</C:calendar-multiget>`);
      received += tagText(xml, 'calendar-data').length;
    }
    return received;
  }

  async syncToken(calendar: string): Promise<string> {
    const xml = await this.multistatus('PROPFIND', calendar, '0', `<?xml version="1.0"?><D:propfind ${NS}><D:prop><D:sync-token/></D:prop></D:propfind>`);
    const token = tagText(xml, 'sync-token')[0]?.trim();
    if (!token) throw new Error(`no sync-token on ${calendar}`);
    return unescapeXml(token);
  }

  /** RFC 6578 sync-collection from `token`: changed and removed members and the new token. */
  async syncCollection(calendar: string, token: string): Promise<{ changed: DavMember[]; token: string }> {
    const body = `<?xml version="1.0"?><D:sync-collection ${NS}><D:sync-token>${token.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;
    const xml = await this.multistatus('REPORT', calendar, '1', body);
    const next = tagText(xml, 'sync-token').pop()?.trim();
    if (!next) throw new Error('sync-collection answered no new sync-token');
    return { changed: parseMultistatus(xml), token: unescapeXml(next) };
  }

  /** calendar-query for VEVENTs overlapping [start, end) (UTC iCalendar stamps), with their data; returns objects received. */
  async timeRange(calendar: string, start: string, end: string): Promise<number> {
    const body = `<?xml version="1.0"?><C:calendar-query ${NS}><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
    const xml = await this.multistatus('REPORT', calendar, '1', body);
    return tagText(xml, 'calendar-data').length;
  }

  /** GET one object, change its first SUMMARY, PUT it back under If-Match (as an edit on a phone). */
  async retitle(href: string, title: string): Promise<void> {
    const got = await this.request('GET', href);
    if (got.status !== 200) throw new Error(`GET ${href}: ${got.status}`);
    const body = got.text.replace(/^SUMMARY(;[^:\r\n]*)?:.*$/m, `SUMMARY:${title}\r`);
    const etag = got.headers.get('etag');
    const put = await this.request('PUT', href, body, etag ? { 'if-match': etag } : {});
    if (put.status >= 300) throw new Error(`PUT ${href}: ${put.status} ${put.text.slice(0, 300)}`);
  }
}
