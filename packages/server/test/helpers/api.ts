export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny JSON client over real HTTP. */
export function apiClient(baseUrl: string) {
  async function request<T = any>(
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string>; rawBody?: string } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  let counter = 0;
  /** Registers a fresh user and logs in; returns the ids and tokens. */
  async function signUp(prefix = 'user') {
    const username = `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`.slice(0, 32);
    const password = 'correct horse battery';
    const reg = await request('POST', '/users/register', { body: { username, password } });
    if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
    const login = await request('POST', '/users/login', { body: { username, password } });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
    return {
      userId: reg.body.userId as string,
      username,
      password,
      token: login.body.token as string,
      refreshToken: login.body.refreshToken as string,
    };
  }

  async function createRoom(token: string, name = 'Family'): Promise<string> {
    const res = await request('POST', '/rooms', { body: { name }, token });
    if (res.status !== 201) throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.roomId;
  }

  /** Adds `member` to the room with `role` through an invite. */
  async function addMember(ownerToken: string, roomId: string, memberToken: string, role = 'editor') {
    const inv = await request('POST', `/rooms/${roomId}/invites`, { body: { role }, token: ownerToken });
    if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${JSON.stringify(inv.body)}`);
    const acc = await request('POST', `/invites/${inv.body.code}/accept`, { token: memberToken });
    if (acc.status !== 200) throw new Error(`accept failed: ${acc.status} ${JSON.stringify(acc.body)}`);
  }

  return { request, signUp, createRoom, addMember };
}
