import type { EngineEvent } from '../model/history.ts';
import type { Clock } from './clock.ts';
import { errorCode } from './store-file.ts';

/** Small helper so engines emit well-formed protocol events with timestamps. */
export function eventEmitter(emit: (event: EngineEvent) => void, clock: Clock) {
  return {
    invoke: (id: number) => emit({ id, type: 'invoke', t: clock.nowNs() }),
    ok: (id: number) => emit({ id, type: 'ok', t: clock.nowNs() }),
    fail: (id: number, error: unknown) =>
      emit({ id, type: 'fail', t: clock.nowNs(), err: errorCode(error) }),
    mark: (name: string, id?: number) =>
      emit({ ...(id === undefined ? {} : { id }), type: 'mark', t: clock.nowNs(), name }),
  };
}
