/**
 * The names of the exported classes and functions, kept whatever an application's bundler does.
 *
 * A class or function declared without a name of its own in the output (`var Agent = class extends …`)
 * takes the name of the binding it is assigned to, and an application's bundler renames top-level
 * bindings that collide in its one scope (netdial's `Agent` beside undici's: `Agent2`). That name shows
 * in `.name`, in util.inspect (`Agent2 { … }`) and in stack frames (`new Agent2`), which V8 takes from
 * the `name` property. So each entry point hands its own namespace here once, at import, and every
 * exported function whose `name` is not the one it is exported as gets it back (an export that is
 * another's alias keeps its source name: `aliases`).
 *
 * Cost: one pass over the entry's exports at import; a `defineProperty` only where a name is wrong — in
 * netdial's own build, none but `lookup` (an arrow function assigned through Object.assign, which has no
 * name of its own).
 */
export function keepExportNames(namespace: object, aliases: Readonly<Record<string, string>> = {}): void {
  for (const [key, value] of Object.entries(namespace)) {
    if (typeof value !== 'function') continue;
    const name = aliases[key] ?? key;
    if (value.name !== name) Object.defineProperty(value, 'name', { value: name, configurable: true });
  }
}
