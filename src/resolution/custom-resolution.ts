/**
 * Resolution by a caller's function (`resolver: (host, family, { signal }) => …`): one call per family,
 * made in a microtask (never synchronously inside `dial()`), whose outcome is that family's answer or error.
 *
 * Shaped for the heap of a dial in flight (issue 16): a dial waiting on the function holds one
 * CustomResolution, and per family one CustomCall (the function's context argument, with `signal` as a
 * getter on the class: no accessor object, closure or context made per call) plus the two handlers bound
 * to it, waiting on the function's promise through one `then`. The AbortSignal is made only when read.
 */
import type { ResolveFunction } from '../options.js';
import type { Family } from '../types.js';
import { readCustomAnswer, rejectionCode, rejectionMessage } from './custom-answer.js';
import type { Resolution, ResolutionEvent, ResolutionSink } from './resolve.js';

/** Promise.prototype.then as the module loaded it: a caller's promise with its own `then` does not decide. */
const promiseThen = Promise.prototype.then;

/** Starts a resolution's calls; a module-level function, so queueing the start makes no closure. */
function startCalls(resolution: CustomResolution): void {
  resolution.start();
}

export class CustomResolution implements Resolution {
  readonly #fn: ResolveFunction;
  readonly host: string;
  readonly #families: readonly Family[];
  readonly #sink: ResolutionSink;
  #controller: AbortController | undefined;
  /** The dial is over: late outcomes are ignored, a signal read from now on is already aborted. */
  #over = false;

  constructor(fn: ResolveFunction, host: string, families: readonly Family[], sink: ResolutionSink) {
    this.#fn = fn;
    this.host = host;
    this.#families = families;
    this.#sink = sink;
    for (let i = 0; i < families.length; i++) {
      sink.resolutionEvent({ type: 'query', family: families[i]!, name: host, source: 'custom' });
    }
    // The function is called in a microtask, as a promise reaction would call it: `dial()` returns first.
    promiseThen.call(Promise.resolve(this), startCalls);
  }

  /**
   * Calls the function once per family (in the microtask queued by the constructor; as before issue 16,
   * also when the dial ended in between: the signal it reads is then already aborted).
   */
  start(): void {
    // By index: the families list is frozen, and a for-of over a frozen array allocates its iterator.
    const families = this.#families;
    for (let i = 0; i < families.length; i++) new CustomCall(this, families[i]!, this.#fn);
  }

  /**
   * The one signal of both families' calls, made when first read (most resolvers never read it: an
   * AbortController with its signal is about 0.8 KB per dial in flight); aborted at once if the dial is over.
   */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#over) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  get over(): boolean {
    return this.#over;
  }

  /** Passes on a family's outcome (callers check `over` first: a cancelled dial hears nothing late). */
  emit(event: ResolutionEvent): void {
    this.#sink.resolutionEvent(event);
  }

  cancel(): void {
    if (this.#over) return;
    this.#over = true;
    this.#controller?.abort();
  }
}

/**
 * One family's call of the function; the object is the call's context argument, so what a resolver can
 * see on it is `signal` only (the rest is private).
 */
class CustomCall {
  readonly #resolution: CustomResolution;
  readonly #family: Family;
  /** Defined in the constructor (see #signalProperty); declared here for the type only. */
  declare readonly signal: AbortSignal;

  /** Calls `fn` for `family` at once (the call's outcome is waited on by the handlers bound here). */
  constructor(resolution: CustomResolution, family: Family, fn: ResolveFunction) {
    this.#resolution = resolution;
    this.#family = family;
    Object.defineProperty(this, 'signal', CustomCall.#signalProperty);
    this.#run(fn);
  }

  /**
   * `signal`, an own enumerable getter as on the `{ get signal() {…} }` literal this object replaces (so
   * `{ ...context }` still carries it), defined with one shared getter: every call's object keeps one
   * hidden class and allocates no accessor of its own.
   */
  static readonly #signalProperty: PropertyDescriptor = {
    get(this: CustomCall): AbortSignal {
      return this.#resolution.signal();
    },
    enumerable: true,
    configurable: true,
  };

  #run(fn: ResolveFunction): void {
    try {
      const outcome = fn(this.#resolution.host, this.#family, this);
      // A thenable is adopted as a promise reaction would adopt it (its `then` called in a job, its
      // getters' throws a rejection, a second call back ignored); a native promise is waited on with the
      // real `then`: one of the two handlers runs, once.
      promiseThen.call(Promise.resolve(outcome), this.#answer.bind(this), this.#fail.bind(this));
    } catch (err) {
      // A synchronous throw (or a promise whose `constructor` getter throws) is this family's error.
      this.#fail(err);
    }
  }

  #answer(list: unknown): void {
    if (this.#resolution.over) return;
    const family = this.#family;
    const name = this.#resolution.host;
    // The caller's output is read defensively (custom-answer.ts): garbage is EBADRESP for this family,
    // never an exception escaping here, never a family left without an answer.
    const answer = readCustomAnswer(list, family);
    if (!answer.ok) {
      this.#resolution.emit({
        type: 'error',
        family,
        name,
        source: 'custom',
        code: answer.code,
        message: answer.message,
      });
    } else if (answer.addresses.length > 0) {
      this.#resolution.emit({ type: 'answer', family, name, source: 'custom', addresses: answer.addresses });
    } else {
      this.#resolution.emit({
        type: 'error',
        family,
        name,
        source: 'custom',
        code: 'ENODATA',
        message: `${name} has no IPv${family} address`,
      });
    }
  }

  #fail(err: unknown): void {
    if (this.#resolution.over) return;
    this.#resolution.emit({
      type: 'error',
      family: this.#family,
      name: this.#resolution.host,
      source: 'custom',
      code: rejectionCode(err),
      message: rejectionMessage(err),
    });
  }
}
