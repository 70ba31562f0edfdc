'use strict';

// The WHATWG-style event API of a WebSocket (Event, MessageEvent, CloseEvent,
// ErrorEvent, addEventListener/removeEventListener), layered over the
// EventEmitter: each added listener is wrapped by a function that builds the
// event object from the emitter's arguments.

const { kForOnEventAttribute, kListener } = require('./constants');

const kCode = Symbol('kCode');
const kData = Symbol('kData');
const kError = Symbol('kError');
const kMessage = Symbol('kMessage');
const kReason = Symbol('kReason');
const kTarget = Symbol('kTarget');
const kType = Symbol('kType');
const kWasClean = Symbol('kWasClean');

/**
 * Class representing an event.
 */
class Event {
  /**
   * Create a new `Event`.
   *
   * @param {String} type The name of the event
   */
  constructor(type) {
    this[kTarget] = null;
    this[kType] = type;
  }

  /**
   * The object the event was dispatched on (`null` until dispatched).
   *
   * @type {*}
   */
  get target() {
    return this[kTarget];
  }

  /**
   * @type {String}
   */
  get type() {
    return this[kType];
  }
}

/**
 * Class representing a close event.
 *
 * @extends Event
 */
class CloseEvent extends Event {
  /**
   * Create a new `CloseEvent`.
   *
   * @param {String} type The name of the event
   * @param {Object} [options] Attribute values
   * @param {Number} [options.code=0] The status code explaining why the
   *     connection was closed
   * @param {String} [options.reason=''] Why the connection was closed
   * @param {Boolean} [options.wasClean=false] Whether the closing handshake
   *     completed (a close frame was both sent and received)
   */
  constructor(type, options = {}) {
    super(type);

    this[kCode] = options.code === undefined ? 0 : options.code;
    this[kReason] = options.reason === undefined ? '' : options.reason;
    this[kWasClean] = options.wasClean === undefined ? false : options.wasClean;
  }

  /**
   * @type {Number}
   */
  get code() {
    return this[kCode];
  }

  /**
   * @type {String}
   */
  get reason() {
    return this[kReason];
  }

  /**
   * @type {Boolean}
   */
  get wasClean() {
    return this[kWasClean];
  }
}

/**
 * Class representing an error event.
 *
 * @extends Event
 */
class ErrorEvent extends Event {
  /**
   * Create a new `ErrorEvent`.
   *
   * @param {String} type The name of the event
   * @param {Object} [options] Attribute values
   * @param {*} [options.error=null] The error that generated this event
   * @param {String} [options.message=''] The error message
   */
  constructor(type, options = {}) {
    super(type);

    this[kError] = options.error === undefined ? null : options.error;
    this[kMessage] = options.message === undefined ? '' : options.message;
  }

  /**
   * @type {*}
   */
  get error() {
    return this[kError];
  }

  /**
   * @type {String}
   */
  get message() {
    return this[kMessage];
  }
}

/**
 * Class representing a message event.
 *
 * @extends Event
 */
class MessageEvent extends Event {
  /**
   * Create a new `MessageEvent`.
   *
   * @param {String} type The name of the event
   * @param {Object} [options] Attribute values
   * @param {*} [options.data=null] The message content
   */
  constructor(type, options = {}) {
    super(type);

    this[kData] = options.data === undefined ? null : options.data;
  }

  /**
   * @type {*}
   */
  get data() {
    return this[kData];
  }
}

// The attributes are accessors on the prototype, enumerable as in the DOM.
for (const [Class, names] of [
  [Event, ['target', 'type']],
  [CloseEvent, ['code', 'reason', 'wasClean']],
  [ErrorEvent, ['error', 'message']],
  [MessageEvent, ['data']]
]) {
  for (const name of names) {
    Object.defineProperty(Class.prototype, name, { enumerable: true });
  }
}

/**
 * Invokes a listener the way the DOM does: an object's `handleEvent()` is
 * called with the object as `this`; a function is called with the target.
 *
 * @param {(Function|Object)} listener The listener
 * @param {*} target The object the event is dispatched on
 * @param {Event} event The event
 * @private
 */
function invoke(listener, target, event) {
  if (typeof listener === 'object' && listener.handleEvent) {
    listener.handleEvent(event);
  } else {
    listener.call(target, event);
  }
}

//
// One wrapper factory per supported event type. Each wrapper is an
// EventEmitter listener (`this` is the WebSocket) that turns the emitted
// arguments into the DOM event object.
//
const wrapperFactories = {
  open(handler) {
    return function onOpen() {
      const event = new Event('open');

      event[kTarget] = this;
      invoke(handler, this, event);
    };
  },

  message(handler) {
    return function onMessage(data, isBinary) {
      // A text message is delivered as a string, as in the browser API.
      const event = new MessageEvent('message', {
        data: isBinary ? data : data.toString()
      });

      event[kTarget] = this;
      invoke(handler, this, event);
    };
  },

  error(handler) {
    return function onError(error) {
      const event = new ErrorEvent('error', {
        error,
        message: error.message
      });

      event[kTarget] = this;
      invoke(handler, this, event);
    };
  },

  close(handler) {
    return function onClose(code, reason) {
      const event = new CloseEvent('close', {
        code,
        reason: reason.toString(),
        wasClean: this._closeFrameReceived && this._closeFrameSent
      });

      event[kTarget] = this;
      invoke(handler, this, event);
    };
  }
};

/**
 * Methods emulating the `EventTarget` interface, mixed into
 * `WebSocket.prototype`. Only `open`, `message`, `error` and `close` are
 * supported; other types are ignored.
 *
 * @mixin
 */
const EventTarget = {
  /**
   * Register an event listener.
   *
   * @param {String} type The event type to listen for
   * @param {(Function|Object)} handler The listener: a function, or an object
   *     with a `handleEvent()` method
   * @param {Object} [options] Listener options
   * @param {Boolean} [options.once=false] Remove the listener after its first
   *     invocation
   * @public
   */
  addEventListener(type, handler, options = {}) {
    const forAttribute = !!options[kForOnEventAttribute];

    // As in the DOM, adding the same listener twice is a no-op. Listeners
    // installed by the `on<type>` attributes are tracked separately.
    if (!forAttribute) {
      for (const listener of this.listeners(type)) {
        if (
          listener[kListener] === handler &&
          !listener[kForOnEventAttribute]
        ) {
          return;
        }
      }
    }

    if (!Object.prototype.hasOwnProperty.call(wrapperFactories, type)) return;

    const wrapper = wrapperFactories[type](handler);

    wrapper[kForOnEventAttribute] = forAttribute;
    wrapper[kListener] = handler;

    if (options.once) this.once(type, wrapper);
    else this.on(type, wrapper);
  },

  /**
   * Remove an event listener added with `addEventListener()`.
   *
   * @param {String} type The event type
   * @param {(Function|Object)} handler The listener to remove
   * @public
   */
  removeEventListener(type, handler) {
    for (const listener of this.listeners(type)) {
      if (listener[kListener] === handler && !listener[kForOnEventAttribute]) {
        this.removeListener(type, listener);
        return;
      }
    }
  }
};

module.exports = {
  CloseEvent,
  ErrorEvent,
  Event,
  EventTarget,
  MessageEvent
};
