// The SDK against the real load balancer, Redis and persistence service, with no executor
// processes: everything that does not need a pod (auth, pools, errors, 503 retries, abort).
import {
  PermissionDeniedError,
  AbortError,
  ConflictError,
  ExecutorClient,
  InvalidArgumentError,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
  type RetryEvent,
} from '../../src';
import { startPlatform, type TestPlatform } from './support';

describe('SDK against the real load balancer (no executors)', () => {
  let p: TestPlatform;
  let client: ExecutorClient;
  let admin: ExecutorClient;

  beforeAll(async () => {
    p = await startPlatform([]);
    client = new ExecutorClient({ baseUrl: p.url, apiKey: p.key, retries: 0 });
    admin = new ExecutorClient({ baseUrl: p.url, apiKey: p.adminKey, retries: 0 });
  });
  afterAll(async () => {
    await p?.stop();
  });

  it('unknown key → UnauthenticatedError (401)', async () => {
    const bad = new ExecutorClient({ baseUrl: p.url, apiKey: 'not-a-key-at-all' });
    await expect(bad.listSessions()).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(bad.listSessions()).rejects.toMatchObject({ status: 401, code: 'unauthenticated' });
  });

  it('lists no sessions for a new tenant; an unknown session → NotFoundError (404)', async () => {
    expect(await client.listSessions()).toEqual([]);
    await expect(client.getSession('ses-does-not-exist')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
    await expect(client.getSession('ses-does-not-exist')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.deleteSession('ses-does-not-exist')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('an unknown template → InvalidArgumentError (400)', async () => {
    const err = await client.createSession({ template: 'cobol' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_argument' });
    expect((err as Error).message).toMatch(/cobol|template/);
  });

  it('bad field types → InvalidArgumentError (400)', async () => {
    await expect(client.createSession({ template: 'python', ttlSeconds: -5 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('pools: a tenant key may read but not register (PermissionDeniedError, 403)', async () => {
    await expect(client.pools.register({ name: 'sdk-x', template: 'python' })).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
    await expect(client.pools.list()).resolves.toEqual(expect.any(Array));
  });

  it('pools: register, list, get, conflict (409), deregister, not found', async () => {
    const reg = await admin.pools.register({
      name: 'sdk-ruby',
      template: 'ruby',
      region: 'eu-west',
      weight: 2,
    });
    expect(reg).toMatchObject({ name: 'sdk-ruby', template: 'ruby' });
    // The load balancer answers 409 only for another template (same template = re-registration).
    await expect(admin.pools.register({ name: 'sdk-ruby', template: 'python' })).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(admin.pools.register({ name: 'sdk-ruby', template: 'python' })).rejects.toMatchObject({
      status: 409,
      code: 'conflict',
    });
    const list = await client.pools.list();
    const mine = list.find((x) => x.name === 'sdk-ruby');
    expect(mine).toMatchObject({ template: 'ruby', region: 'eu-west', weight: 2, healthy: false, pods: 0 });
    expect(['closed', 'open', 'half-open']).toContain(mine?.circuit);
    const one = await client.pools.get('sdk-ruby');
    expect(one).toMatchObject({ name: 'sdk-ruby', podDetails: [] });
    await admin.pools.deregister('sdk-ruby');
    await expect(client.pools.get('sdk-ruby')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('no healthy pod → UnavailableError (503) with retryAfterSeconds, retried with the hint', async () => {
    await admin.pools.register({ name: 'sdk-go', template: 'go' });
    const events: RetryEvent[] = [];
    const retrying = new ExecutorClient({
      baseUrl: p.url,
      apiKey: p.key,
      retries: 2,
      onRetry: (e) => events.push(e),
    });
    const err = (await retrying
      .createSession({ template: 'go' })
      .catch((e: unknown) => e)) as UnavailableError;
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.status).toBe(503);
    expect(typeof err.retryAfterSeconds).toBe('number');
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.delayMs === Math.ceil((err.retryAfterSeconds as number) * 1000))).toBe(true);
    await admin.pools.deregister('sdk-go');
  });

  it('a known template with no pool at all → UnavailableError (503)', async () => {
    const err = await client.createSession({ template: 'rust' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
  });

  it('abort: an aborted call rejects with AbortError and sends nothing more', async () => {
    await expect(client.pools.list({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await admin.pools.register({ name: 'sdk-c', template: 'c' });
    const ctrl = new AbortController();
    const retrying = new ExecutorClient({
      baseUrl: p.url,
      apiKey: p.key,
      retries: 5,
      onRetry: () => ctrl.abort(),
    });
    await expect(retrying.createSession({ template: 'c', signal: ctrl.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
    await admin.pools.deregister('sdk-c');
  });

  it('sessions are per tenant: another tenant lists none', async () => {
    const other = new ExecutorClient({ baseUrl: p.url, apiKey: p.otherKey });
    expect(await other.listSessions()).toEqual([]);
  });
});
