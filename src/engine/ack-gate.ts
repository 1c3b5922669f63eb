import type { EngineEvent } from '../model/history.ts';
import type { StoreFile } from './store-file.ts';

/** The reserved `--pause-at` name: pause after every acknowledgement. */
export const ackPauseName = 'ack';

/**
 * `--pause-at ack`: after each `ok` event the engine emits a paused `ack` mark and issues no
 * further I/O until a `{"op":"resume"}` arrives. The harness uses the pause to put a marker
 * into the block-level write log (dm-log-writes) exactly between the acknowledgement and any
 * later write or flush, so a crash state "just after this ack" is known precisely.
 * Every engine writes through the StoreFile, so gating the file gates the engine.
 */
export class AckGate {
  private gate: Promise<void> = Promise.resolve();

  constructor(private readonly resumed: () => Promise<void>) {}

  /** Wraps `emit`: an `ok` is followed by a paused `ack` mark and closes the gate. */
  emitter(emit: (event: EngineEvent) => void): (event: EngineEvent) => void {
    return (event) => {
      emit(event);
      if (event.type !== 'ok') return;
      emit({ id: event.id, type: 'mark', t: event.t, name: ackPauseName, paused: true });
      this.gate = this.gate.then(() => this.resumed());
    };
  }

  /** The file with every call waiting for the gate first. */
  wrap(file: StoreFile): StoreFile {
    const open = (): Promise<void> => this.gate;
    return {
      size: () => file.size(),
      alloc: (length) => file.alloc(length),
      pwrite: async (buf, offset) => (await open(), file.pwrite(buf, offset)),
      pread: async (length, offset) => (await open(), file.pread(length, offset)),
      fdatasync: async () => (await open(), file.fdatasync()),
      close: () => file.close(),
    };
  }
}
