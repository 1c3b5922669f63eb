/** A failure of the harness itself (VM, device, filesystem, transport), as opposed to a verdict. */
export class HarnessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HarnessError';
  }
}
