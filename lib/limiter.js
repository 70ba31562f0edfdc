'use strict';

const kDone = Symbol('kDone');
const kRun = Symbol('kRun');

/**
 * A FIFO job queue that runs at most `concurrency` jobs at once. Used to
 * bound how many compression jobs sit on the libuv threadpool, which is
 * shared by the whole process (fs, dns, crypto): a burst of large messages
 * must not starve it (ws issue #1202).
 */
class Limiter {
  /**
   * Creates a new `Limiter`.
   *
   * @param {Number} [concurrency=Infinity] The maximum number of jobs allowed
   *     to run concurrently
   */
  constructor(concurrency) {
    this[kDone] = () => {
      this.pending--;
      this[kRun]();
    };
    this.concurrency = concurrency || Infinity;
    this.jobs = [];
    this.pending = 0;
  }

  /**
   * Adds a job to the queue. The job is called with a `done` function that it
   * must call exactly once when its work has finished.
   *
   * @param {Function} job The job to run
   * @public
   */
  add(job) {
    this.jobs.push(job);
    this[kRun]();
  }

  /**
   * Starts queued jobs while there is room.
   *
   * @private
   */
  [kRun]() {
    while (this.pending < this.concurrency && this.jobs.length) {
      const job = this.jobs.shift();

      this.pending++;
      job(this[kDone]);
    }
  }
}

module.exports = Limiter;
