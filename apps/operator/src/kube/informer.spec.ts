import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import * as k8s from '@kubernetes/client-node';
import { Informer, type InformerEvent, type WatchRestartReason } from './informer';
import { KubeClient, type KubeObject } from './kube-client';

/** A scripted stand-in for the API server's list and watch of /api/v1/pods (real HTTP, real client-node Watch). */
interface WatchScript {
  events: { type: string; object: unknown }[];
  /** close: end the stream; hold: keep it open; a number: answer with that HTTP status instead. */
  then: 'close' | 'hold' | number;
}

const pod = (name: string, rv: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

describe('Informer (list + watch against a scripted API server)', () => {
  let server: Server;
  let client: KubeClient;
  let listItems: KubeObject[] = [];
  let listRv = '10';
  const lists: string[] = [];
  const watches: URLSearchParams[] = [];
  const scripts: WatchScript[] = [];
  const held: ServerResponse[] = [];
  let informer: Informer | undefined;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') !== 'true') {
      lists.push(url.search);
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: listRv }, items: listItems }));
      return;
    }
    watches.push(url.searchParams);
    const script = scripts.shift() ?? { events: [], then: 'hold' };
    if (typeof script.then === 'number') {
      res.statusCode = script.then;
      res.end('{}');
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.flushHeaders(); // as the API server does: a watch answers its headers at once
    for (const e of script.events) res.write(`${JSON.stringify(e)}\n`);
    if (script.then === 'close') res.end();
    else held.push(res);
  }

  beforeAll(() => Logger.overrideLogger(['error']));
  beforeEach(async () => {
    listItems = [];
    listRv = '10';
    lists.length = 0;
    watches.length = 0;
    scripts.length = 0;
    server = createServer(handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    client = new KubeClient(kc);
  });

  afterEach(async () => {
    await informer?.stop();
    held.splice(0).forEach((r) => r.end());
    client.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function start(resyncMs = 0): {
    events: [InformerEvent, string, string][];
    restarts: WatchRestartReason[];
    synced: Promise<void>;
  } {
    const events: [InformerEvent, string, string][] = [];
    const restarts: WatchRestartReason[] = [];
    informer = new Informer(client, {
      name: 'pods',
      path: '/api/v1/pods',
      resyncMs,
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      onRestart: (r) => restarts.push(r),
    });
    informer.on((e, o) => events.push([e, o.metadata.name, o.metadata.resourceVersion ?? '']));
    return { events, restarts, synced: informer.start() };
  }

  async function until(cond: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10)); // scripted server: polling its records
    expect(cond()).toBe(true);
  }

  it('lists, then watches from the list resourceVersion and applies ADDED/MODIFIED/DELETED', async () => {
    listItems = [pod('a', '5')];
    scripts.push({
      events: [
        { type: 'ADDED', object: pod('b', '11') },
        { type: 'MODIFIED', object: pod('a', '12') },
        { type: 'DELETED', object: pod('b', '13') },
      ],
      then: 'hold',
    });
    const { events, synced } = start();
    await synced;
    await until(() => events.length === 4);
    expect(events).toEqual([
      ['add', 'a', '5'],
      ['add', 'b', '11'],
      ['update', 'a', '12'],
      ['delete', 'b', '13'],
    ]);
    expect(watches[0]?.get('resourceVersion')).toBe('10');
    expect(watches[0]?.get('allowWatchBookmarks')).toBe('true');
    expect(informer?.list().map((p) => p.metadata.name)).toEqual(['a']);
  });

  it('resumes a watch the server closed from the last resourceVersion seen (bookmarks included), without re-listing', async () => {
    scripts.push({
      events: [
        { type: 'ADDED', object: pod('a', '11') },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } },
      ],
      then: 'close',
    });
    const { restarts, synced } = start();
    await synced;
    await until(() => watches.length === 2);
    expect(watches[1]?.get('resourceVersion')).toBe('15');
    expect(lists).toHaveLength(1);
    expect(restarts).toContain('closed');
  });

  it('re-lists on 410 Gone and reports objects deleted meanwhile', async () => {
    listItems = [pod('a', '5'), pod('b', '6')];
    scripts.push({
      events: [
        {
          type: 'ERROR',
          object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
        },
      ],
      then: 'hold',
    });
    const { events, restarts, synced } = start();
    await synced;
    listItems = [pod('a', '5')];
    listRv = '20';
    await until(() => events.some(([e]) => e === 'delete'));
    expect(events).toContainEqual(['delete', 'b', '6']);
    expect(lists).toHaveLength(2);
    expect(restarts).toContain('gone');
    await until(() => watches.length === 2);
    expect(watches[1]?.get('resourceVersion')).toBe('20');
  });

  it('restarts with backoff after errors (HTTP 500 on watch) and keeps the cache', async () => {
    listItems = [pod('a', '5')];
    scripts.push(
      { events: [], then: 500 },
      { events: [], then: 500 },
      { events: [{ type: 'ADDED', object: pod('c', '21') }], then: 'hold' },
    );
    const { events, restarts, synced } = start();
    await synced;
    await until(() => events.some(([, n]) => n === 'c'));
    expect(restarts.filter((r) => r === 'error')).toHaveLength(2);
    expect(informer?.get('ns', 'a')).toBeDefined();
  });

  it('resyncs periodically: a full re-list replays every object as an update', async () => {
    listItems = [pod('a', '5')];
    const { events, restarts, synced } = start(100);
    await synced;
    await until(() => events.filter(([e, n]) => e === 'update' && n === 'a').length >= 1);
    expect(restarts).toContain('resync');
    expect(lists.length).toBeGreaterThanOrEqual(2);
  });
});
