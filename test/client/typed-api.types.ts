// Type-level tests: compiled by `npm run typecheck` (part of `npm test`), never executed.
// Each @ts-expect-error line must fail to compile; if the API loosens, typecheck fails.
import { z } from 'zod';
import { compose, source, subscribe } from '../../src/client/index.js';
import type { ConnectionState, Derived, Source, StreamView } from '../../src/client/index.js';
import { useStream } from '../../src/client/react.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_: T): void {}

export function typedApi(): void {
  // subscribe<T>() types get().
  const counter = subscribe<{ count: number }>('ws://x/stream/counter');
  const n: number = counter.get().count;
  // @ts-expect-error count is a number
  const s: string = counter.get().count;
  assertType<Equals<typeof counter, StreamView<{ count: number }>>>(true);

  // A Standard Schema gives the type.
  const schema = z.object({ mood: z.enum(['happy', 'sad']), energy: z.number() });
  const mood = subscribe('ws://x/stream/mood', { schema });
  assertType<Equals<ReturnType<typeof mood.get>, { mood: 'happy' | 'sad'; energy: number }>>(true);
  // @ts-expect-error not in the schema
  void mood.get().color;

  // Sources are typed by their initial state.
  const src: Source<{ count: number; label: string }> = source('ws://x/source/c', { initial: { count: 0, label: 'a' } });
  src.state.count++;
  // @ts-expect-error label is a string
  src.state.label = 5;
  // @ts-expect-error unknown field
  src.set({ nope: 1 });

  // compose infers the derived type from the inputs.
  const clock = subscribe<{ seconds: number }>('ws://x/stream/clock');
  const metrics = compose({ counter, clock }, ({ counter, clock }) => ({ events: counter.count + clock.seconds, status: 'ok' as const }));
  assertType<Equals<typeof metrics, Derived<{ events: number; status: 'ok' }>>>(true);
  metrics.close();
  // @ts-expect-error inputs are typed
  compose({ counter }, ({ counter }) => ({ x: counter.missing }));

  // send takes JSON values only.
  counter.send({ type: 'inc', by: 2 });
  // @ts-expect-error functions are not JSON
  counter.send({ fn: () => 1 });
  // Events carry one context object.
  counter.on('change', ({ state, paths }) => {
    const c: number = state.count;
    const p: string[] = paths;
    void c;
    void p;
  });
  // @ts-expect-error change carries one context object, not (state, paths)
  counter.on('change', (state: { count: number }, paths: string[]) => void [state, paths]);
  src.on('action', ({ action, sender }) => void [action, sender]);
  src.on('state', ({ previous, current }) => {
    const st: ConnectionState = current;
    void [previous, st];
  });
  src.on('error', (e) => void [e.code, e.fatal, e.retryInMs]);
  // A source is Readable, so it feeds compose().
  const fromSource = compose({ src }, ({ src }) => ({ label: src.label }));
  assertType<Equals<typeof fromSource, Derived<{ label: string }>>>(true);
  fromSource.close();

  // useStream: selector form is typed by the selector.
  function Component(): number {
    const count = useStream(counter, (st) => st.count);
    assertType<Equals<typeof count, number>>(true);
    const whole = useStream<{ count: number }>('ws://x/stream/counter', { select: ['count'] });
    // @ts-expect-error not in the type
    void whole.nope;
    return count + whole.count;
  }
  void Component;
  void n;
  void s;
}
