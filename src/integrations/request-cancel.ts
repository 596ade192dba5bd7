/**
 * What cancels an agent's dial: the request it is for being destroyed.
 *
 * `req.destroy()`, `req.abort()`, a request `signal` (http adds it with `addAbortSignal`, which calls
 * `destroy`), got's and axios's timeouts and node-fetch's abort all end in `ClientRequest#destroy`. Before
 * the agent has handed the request a socket, Node's `destroy` only records the error
 * (`this.socket?.destroy(err)` with no socket): nothing is emitted until the agent calls back with a
 * socket or an error. Node's own agent returns a connecting socket synchronously, so its requests never
 * wait in that state; a netdial agent dials asynchronously (http.Agent's documented callback form of
 * `createConnection`), so it has to see `destroy` itself to stop the dial at once. There is no event for
 * it, so the request gets an own `destroy` that calls Node's and then tells the dials waiting for it.
 */
import type * as http from 'node:http';

type DestroyListener = (err: Error | undefined) => void;

const listeners = new WeakMap<http.ClientRequest, Set<DestroyListener>>();

/**
 * Calls `listener(err)` once when `req` is destroyed (with the error given to `destroy`, if any).
 * Returns a function that stops listening. A request that is already destroyed is not watched: it gets
 * no call, and whoever dials for it keeps going (a queued request's dial serves the queue).
 */
export function onRequestDestroyed(req: http.ClientRequest, listener: DestroyListener): () => void {
  if (req.destroyed) return () => {};
  let set = listeners.get(req);
  if (set === undefined) {
    const watchers = new Set<DestroyListener>();
    set = watchers;
    listeners.set(req, watchers);
    const nodeDestroy = req.destroy;
    req.destroy = function destroy(this: http.ClientRequest, err?: Error) {
      const first = !this.destroyed;
      const result = nodeDestroy.call(this, err);
      if (first) for (const l of [...watchers]) l(err);
      return result;
    };
  }
  const watchers = set;
  let called = false;
  const once: DestroyListener = (err) => {
    if (called) return;
    called = true;
    watchers.delete(once);
    listener(err);
  };
  watchers.add(once);
  return () => {
    watchers.delete(once);
  };
}

/**
 * The error Node gives a request destroyed while its socket connects: the `destroy` error, or
 * `ECONNRESET` "socket hang up" (Node's ConnResetException) for a plain `destroy()`.
 */
export function destroyedRequestError(err: Error | undefined): Error {
  return err ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}
