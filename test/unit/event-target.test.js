// lib/event-target.js: the DOM-style event classes and the addEventListener /
// removeEventListener mixin, checked on a bare EventEmitter and on WebSocket's
// on<type> attributes (the WebSocket never connects here: events are emitted
// by hand with the arguments WebSocket emits them with).

import EventEmitter from 'node:events';
import { createRequire } from 'node:module';

import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const {
  CloseEvent,
  ErrorEvent,
  Event,
  EventTarget,
  MessageEvent
} = require('../../lib/event-target.js');
const WebSocket = require('../../lib/websocket.js');
const { kForOnEventAttribute } = require('../../lib/constants.js');

class Target extends EventEmitter {
  constructor() {
    super();
    this._closeFrameReceived = false;
    this._closeFrameSent = false;
  }
}
Target.prototype.addEventListener = EventTarget.addEventListener;
Target.prototype.removeEventListener = EventTarget.removeEventListener;

/** A server-side WebSocket that never gets a socket: enough for listeners. */
function idleWebSocket() {
  return new WebSocket(null, undefined, {});
}

describe('Event classes', () => {
  it('Event has a type and a null target, as enumerable accessors', () => {
    const event = new Event('open');
    expect(event.type).toBe('open');
    expect(event.target).toBe(null);
    // Enumerable on the prototype, so for..in sees them as on a DOM event.
    expect(Object.keys(Event.prototype)).toEqual(['target', 'type']);
    const seen = [];
    for (const key in event) seen.push(key);
    expect(seen).toEqual(['target', 'type']);
    for (const name of ['target', 'type']) {
      const descriptor = Object.getOwnPropertyDescriptor(Event.prototype, name);
      expect(descriptor.enumerable).toBe(true);
      expect(typeof descriptor.get).toBe('function');
      expect(descriptor.set).toBe(undefined);
    }
    // Read-only: assigning throws in strict mode and changes nothing.
    expect(() => {
      event.type = 'other';
    }).toThrow(TypeError);
    expect(event.type).toBe('open');
  });

  it('CloseEvent defaults to code 0, reason "" and wasClean false', () => {
    const event = new CloseEvent('close');
    expect(event).toBeInstanceOf(Event);
    expect(event.type).toBe('close');
    expect(event.code).toBe(0);
    expect(event.reason).toBe('');
    expect(event.wasClean).toBe(false);
  });

  it('CloseEvent takes code, reason and wasClean from its options', () => {
    const event = new CloseEvent('close', {
      code: 1001,
      reason: 'going away',
      wasClean: true
    });
    expect([event.code, event.reason, event.wasClean]).toEqual([
      1001,
      'going away',
      true
    ]);
    for (const name of ['code', 'reason', 'wasClean']) {
      expect(
        Object.getOwnPropertyDescriptor(CloseEvent.prototype, name).enumerable
      ).toBe(true);
    }
  });

  it('ErrorEvent defaults to a null error and an empty message', () => {
    const empty = new ErrorEvent('error');
    expect(empty.error).toBe(null);
    expect(empty.message).toBe('');
    const error = new Error('boom');
    const event = new ErrorEvent('error', { error, message: 'boom' });
    expect(event.error).toBe(error);
    expect(event.message).toBe('boom');
    expect(event).toBeInstanceOf(Event);
  });

  it('MessageEvent defaults to null data', () => {
    expect(new MessageEvent('message').data).toBe(null);
    const data = Buffer.from('x');
    expect(new MessageEvent('message', { data }).data).toBe(data);
    expect(
      Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data').enumerable
    ).toBe(true);
  });
});

describe('EventTarget.addEventListener', () => {
  it('wraps message: text becomes a string, binary data is passed as is', () => {
    const target = new Target();
    const events = [];
    target.addEventListener('message', (event) => events.push(event));
    const binary = Buffer.from([1, 2, 3]);
    target.emit('message', Buffer.from('héllo'), false);
    target.emit('message', binary, true);
    expect(events).toHaveLength(2);
    expect(events[0]).toBeInstanceOf(MessageEvent);
    expect(events[0].type).toBe('message');
    expect(events[0].data).toBe('héllo');
    expect(events[0].target).toBe(target);
    expect(events[1].data).toBe(binary);
  });

  it('wraps close: code, reason as a string, and wasClean from both flags', () => {
    const target = new Target();
    const events = [];
    target.addEventListener('close', (event) => events.push(event));
    target.emit('close', 1006, Buffer.alloc(0));
    target._closeFrameReceived = true;
    target.emit('close', 1000, Buffer.from('done'));
    target._closeFrameSent = true;
    target.emit('close', 4000, Buffer.from('bye'));
    expect(events.map((e) => [e.code, e.reason, e.wasClean])).toEqual([
      [1006, '', false],
      [1000, 'done', false],
      [4000, 'bye', true]
    ]);
    expect(events[0]).toBeInstanceOf(CloseEvent);
    expect(events[0].target).toBe(target);
  });

  it('wraps error with the error and its message', () => {
    const target = new Target();
    let received;
    target.addEventListener('error', (event) => {
      received = event;
    });
    const error = new RangeError('Invalid WebSocket frame: bad');
    target.emit('error', error);
    expect(received).toBeInstanceOf(ErrorEvent);
    expect(received.error).toBe(error);
    expect(received.message).toBe('Invalid WebSocket frame: bad');
    expect(received.target).toBe(target);
  });

  it('wraps open in a plain Event and calls the listener with the target as this', () => {
    const target = new Target();
    let self;
    let received;
    target.addEventListener('open', function (event) {
      self = this;
      received = event;
    });
    target.emit('open');
    expect(self).toBe(target);
    expect(received.constructor).toBe(Event);
    expect(received.type).toBe('open');
    expect(received.target).toBe(target);
  });

  it('calls handleEvent() of an object listener with the object as this', () => {
    const target = new Target();
    const listener = {
      calls: [],
      handleEvent(event) {
        this.calls.push([this, event.type]);
      }
    };
    target.addEventListener('open', listener);
    target.emit('open');
    expect(listener.calls).toEqual([[listener, 'open']]);
  });

  it('ignores types other than open, message, error and close', () => {
    const target = new Target();
    target.addEventListener('ping', () => {});
    target.addEventListener('foo', () => {});
    expect(target.listenerCount('ping')).toBe(0);
    expect(target.listenerCount('foo')).toBe(0);
  });

  it('adds the same listener only once per type', () => {
    const target = new Target();
    const calls = [];
    const listener = (event) => calls.push(event.type);
    target.addEventListener('open', listener);
    target.addEventListener('open', listener);
    target.addEventListener('close', listener);
    expect(target.listenerCount('open')).toBe(1);
    target.emit('open');
    target.emit('close', 1000, Buffer.alloc(0));
    expect(calls).toEqual(['open', 'close']);
  });

  it('honours once: the listener runs a single time and is removed', () => {
    const target = new Target();
    let count = 0;
    target.addEventListener('open', () => count++, { once: true });
    target.emit('open');
    target.emit('open');
    expect(count).toBe(1);
    expect(target.listenerCount('open')).toBe(0);
  });
});

describe('EventTarget.removeEventListener', () => {
  it('removes a listener added by addEventListener', () => {
    const target = new Target();
    let count = 0;
    const listener = () => count++;
    target.addEventListener('message', listener);
    target.removeEventListener('message', listener);
    target.emit('message', Buffer.from('x'), false);
    expect(count).toBe(0);
    expect(target.listenerCount('message')).toBe(0);
  });

  it('removes a once listener before it runs', () => {
    const target = new Target();
    let count = 0;
    const listener = () => count++;
    target.addEventListener('open', listener, { once: true });
    target.removeEventListener('open', listener);
    target.emit('open');
    expect(count).toBe(0);
  });

  it('leaves listeners added with on() and unknown handlers alone', () => {
    const target = new Target();
    const listener = () => {};
    target.on('open', listener);
    target.removeEventListener('open', listener);
    target.removeEventListener('open', () => {});
    expect(target.listeners('open')).toEqual([listener]);
  });
});

describe('WebSocket on<type> attributes', () => {
  it('are null until set, and return the handler once set', () => {
    const ws = idleWebSocket();
    for (const type of ['open', 'error', 'close', 'message']) {
      expect(ws[`on${type}`]).toBe(null);
      const handler = () => {};
      ws[`on${type}`] = handler;
      expect(ws[`on${type}`]).toBe(handler);
      expect(ws.listenerCount(type)).toBe(1);
    }
  });

  it('replace the previous handler and are cleared by a non-function', () => {
    const ws = idleWebSocket();
    const calls = [];
    ws.onopen = () => calls.push('first');
    ws.onopen = () => calls.push('second');
    ws.emit('open');
    expect(calls).toEqual(['second']);
    expect(ws.listenerCount('open')).toBe(1);
    ws.onopen = 'not a function';
    expect(ws.onopen).toBe(null);
    expect(ws.listenerCount('open')).toBe(0);
  });

  it('coexist with addEventListener for the same function', () => {
    const ws = idleWebSocket();
    const events = [];
    const handler = (event) => events.push(event.data);
    ws.onmessage = handler;
    ws.addEventListener('message', handler);
    expect(ws.listenerCount('message')).toBe(2);
    ws.emit('message', Buffer.from('a'), false);
    expect(events).toEqual(['a', 'a']);
    // removeEventListener only removes the one it added.
    ws.removeEventListener('message', handler);
    expect(ws.onmessage).toBe(handler);
    ws.emit('message', Buffer.from('b'), false);
    expect(events).toEqual(['a', 'a', 'b']);
  });

  it('an attribute listener is flagged and does not block a later add', () => {
    const ws = idleWebSocket();
    const handler = () => {};
    ws.onclose = handler;
    const [listener] = ws.listeners('close');
    expect(listener[kForOnEventAttribute]).toBe(true);
    ws.addEventListener('close', handler);
    expect(ws.listenerCount('close')).toBe(2);
  });

  it('are enumerable accessors of WebSocket.prototype', () => {
    for (const type of ['open', 'error', 'close', 'message']) {
      const descriptor = Object.getOwnPropertyDescriptor(
        WebSocket.prototype,
        `on${type}`
      );
      expect(descriptor.enumerable).toBe(true);
      expect(typeof descriptor.get).toBe('function');
      expect(typeof descriptor.set).toBe('function');
    }
    expect(WebSocket.prototype.addEventListener).toBe(
      EventTarget.addEventListener
    );
    expect(WebSocket.prototype.removeEventListener).toBe(
      EventTarget.removeEventListener
    );
  });
});
