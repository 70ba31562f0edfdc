// ws public API, run against ws and ws-native: ping(), pong(), the 'ping'/'pong' events and
// autoPong, between a server and a client of the same implementation.

import { afterEach, expect, it } from 'vitest';

import { cleanup, openPair, sleep } from '../helpers/harness.js';
import { describeEach } from '../helpers/implementations.js';

afterEach(cleanup);

describeEach('ping and pong', (impl) => {
  it('a client ping is answered automatically; both sides see the payload', async () => {
    const { client, serverWs } = await openPair(impl);
    client.ping('hello?');
    const [, pinged] = await serverWs.events.wait('ping');
    const [, ponged] = await client.events.wait('pong');
    expect([pinged.toString(), ponged.toString()]).toEqual([
      'hello?',
      'hello?'
    ]);
  });

  it('a server ping is answered automatically by the client', async () => {
    const { client, serverWs } = await openPair(impl);
    serverWs.ping(Buffer.from([1, 2, 3]));
    const [, pinged] = await client.events.wait('ping');
    const [, ponged] = await serverWs.events.wait('pong');
    expect([pinged.toString('hex'), ponged.toString('hex')]).toEqual([
      '010203',
      '010203'
    ]);
  });

  it('autoPong: false on the server: the ping is reported, no pong comes back', async () => {
    const { client, serverWs } = await openPair(impl, {
      serverOptions: { autoPong: false }
    });
    client.ping('anyone');
    await serverWs.events.wait('ping');
    await sleep(50);
    expect(client.events.of('pong')).toEqual([]);
  });

  it('autoPong: false on the client: the ping is reported, no pong comes back', async () => {
    const { client, serverWs } = await openPair(impl, {
      clientOptions: { autoPong: false }
    });
    serverWs.ping('anyone');
    await client.events.wait('ping');
    await sleep(50);
    expect(serverWs.events.of('pong')).toEqual([]);
  });

  it('an unsolicited pong() is reported as a pong event on the other side', async () => {
    const { client, serverWs } = await openPair(impl);
    client.pong('heartbeat');
    const [, data] = await serverWs.events.wait('pong');
    expect(data.toString()).toBe('heartbeat');
    expect(client.events.of('pong')).toEqual([]);
  });

  it('ping() of a 125-byte Buffer, a Uint8Array and a Blob all arrive whole', async () => {
    const { client, serverWs } = await openPair(impl);
    client.ping(Buffer.alloc(125, 0x61));
    client.ping(new Uint8Array([9, 8]));
    client.ping(new Blob(['blob']));
    const pings = await serverWs.events.waitCount('ping', 3);
    expect(pings.map(([, data]) => data.toString('hex'))).toEqual([
      Buffer.alloc(125, 0x61).toString('hex'),
      '0908',
      Buffer.from('blob').toString('hex')
    ]);
  });

  it('the ping callback runs once the frame is written', async () => {
    const { client } = await openPair(impl);
    const error = await new Promise((resolve) =>
      client.ping('cb', undefined, resolve)
    );
    expect(error == null).toBe(true);
  });
});
