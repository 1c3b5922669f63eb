import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { HarnessError } from '../errors.ts';
import { withTimeout } from '../timeout.ts';

/**
 * A QEMU Machine Protocol client over a unix socket: one JSON object per line, the greeting
 * first, then `qmp_capabilities`, then commands answered in order (events interleave and are
 * skipped). Only what saving a guest needs; see QEMU's docs/interop/qmp-spec.
 */
export class QmpClient {
  private readonly waiting: ((reply: QmpReply) => void)[] = [];

  private constructor(private readonly socket: Socket) {
    const lines = createInterface({ input: socket });
    lines.on('line', (line) => {
      let message: QmpReply & { event?: string; QMP?: unknown };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return;
      }
      if (message.event !== undefined || message.QMP !== undefined) return;
      this.waiting.shift()?.(message);
    });
    // readline re-emits its input's errors: the socket's own listener below handles them.
    lines.on('error', () => undefined);
    socket.on('error', () => {
      for (const resolve of this.waiting.splice(0))
        resolve({ error: { desc: 'qmp socket closed' } });
    });
  }

  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const socket = await withTimeout(
      new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path, () => resolve(s));
        // Every error rejects the connect or reaches waiting commands (below), never the process.
        s.on('error', reject);
      }),
      timeoutMs,
      `qmp: connecting to ${path}`,
    );
    const client = new QmpClient(socket);
    await client.execute('qmp_capabilities');
    return client;
  }

  /** Runs one command; its `return` value, or a HarnessError with QEMU's description. */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = await withTimeout(
      new Promise<QmpReply>((resolve) => {
        this.waiting.push(resolve);
        this.socket.write(
          `${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`,
        );
      }),
      30_000,
      `qmp: ${command}`,
    );
    if (reply.error) throw new HarnessError(`qmp ${command}: ${reply.error.desc}`);
    return reply.return;
  }

  close(): void {
    this.socket.destroy();
  }
}

type QmpReply = { return?: unknown; error?: { desc: string } };
