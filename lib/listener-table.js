'use strict';

// EventEmitter keeps listeners in `_events`, which it creates as
// `{ __proto__: null }`: V8 stores such an object as a hash table, about
// 220 bytes once a few listeners are added. Every connection has two
// emitters (the WebSocket and, after the upgrade, its NativeSocket), so at
// 10 000 idle connections those tables alone were about 4 MiB. An instance of
// a constructor whose prototype is an empty null-prototype object keeps its
// named properties in place instead (about 60 bytes for four listeners), and
// `_events[type]` still inherits nothing, not even `toString`. Node's own
// streams pre-shape `_events` the same way.

function ListenerTable() {}

ListenerTable.prototype = Object.create(null);

/**
 * Gives a just-constructed EventEmitter a compact listener table. Call it
 * right after `super()`, before any listener is added.
 *
 * @param {EventEmitter} emitter The emitter
 * @private
 */
function useCompactListeners(emitter) {
  if (emitter._eventsCount === 0) emitter._events = new ListenerTable();
}

module.exports = { useCompactListeners };
