import { trialPhases, type TrialPhase } from '../../model/trial-result.ts';

export { trialPhases, type TrialPhase };

/** Where a trial spends its time: the current phase, and the milliseconds each one took. */
export class PhaseClock {
  readonly ms = Object.fromEntries(trialPhases.map((p) => [p, 0])) as Record<TrialPhase, number>;
  private phase: TrialPhase = 'device';
  private since = Date.now();

  constructor(private readonly onPhase?: (phase: TrialPhase) => void) {
    onPhase?.('device');
  }

  enter(next: TrialPhase): void {
    this.stop();
    this.phase = next;
    this.onPhase?.(next);
  }

  /** Books the time since the last phase change to the current phase. */
  stop(): Record<TrialPhase, number> {
    const now = Date.now();
    this.ms[this.phase] += now - this.since;
    this.since = now;
    return this.ms;
  }
}
