// Live updates: one EventSource for the whole page, fanned out to the
// current view. EventSource reconnects by itself (resuming with
// Last-Event-ID); when the server closes it for good, for example after a
// restart, a new one is opened with a growing delay.

const TYPES = ['run.queued', 'run.started', 'run.progress', 'run.log', 'run.overdue',
  'run.finished', 'run.skipped', 'task.changed', 'app.reloaded'];

export class Live {
  constructor(url, onState) {
    this.url = url;
    this.onState = onState || (() => {});
    this.listeners = new Set();
    this.reopens = new Set();
    this.es = null;
    this.delay = 1000;
    this.timer = 0;
    this.opened = false;
  }

  start() {
    this.stop();
    this.stopped = false;
    const es = new EventSource(this.url, { withCredentials: true });
    this.es = es;
    const dispatch = (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!data.type) data.type = e.type;
      for (const fn of [...this.listeners]) {
        try {
          fn(data);
        } catch (err) {
          console.error(err);
        }
      }
    };
    for (const t of TYPES) es.addEventListener(t, dispatch);
    es.addEventListener('message', dispatch);
    es.addEventListener('open', () => {
      this.delay = 1000;
      this.onState('live');
      // Anything may have changed while the stream was down.
      if (this.opened) for (const fn of [...this.reopens]) fn();
      this.opened = true;
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        this.onState('down');
        this.es = null;
        if (this.stopped) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.start(), this.delay);
        this.delay = Math.min(this.delay * 2, 30000);
      } else {
        this.onState('reconnecting');
      }
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
    this.opened = false;
  }

  // on adds fn for every event and returns a function that removes it.
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // onReopen adds fn to call after the stream came back.
  onReopen(fn) {
    this.reopens.add(fn);
    return () => this.reopens.delete(fn);
  }
}

// batcher collects keys over ms and calls fn once with all of them.
export function batcher(fn, ms) {
  const keys = new Set();
  let t = 0;
  const add = (key) => {
    keys.add(key);
    if (!t) {
      t = setTimeout(() => {
        t = 0;
        const all = [...keys];
        keys.clear();
        fn(all);
      }, ms);
    }
  };
  add.cancel = () => {
    clearTimeout(t);
    t = 0;
    keys.clear();
  };
  return add;
}
