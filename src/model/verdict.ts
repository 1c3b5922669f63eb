export type AnomalyKind =
  | 'lost-ack'
  | 'phantom'
  | 'torn-undetected'
  | 'corrupt-undetected'
  | 'non-atomic'
  | 'ack-after-eio'
  | 'unrecoverable'
  | 'fs-corrupt';

export const anomalyKinds: readonly AnomalyKind[] = [
  'lost-ack',
  'phantom',
  'torn-undetected',
  'corrupt-undetected',
  'non-atomic',
  'ack-after-eio',
  'unrecoverable',
  'fs-corrupt',
];

/** One explained violation: which ops, which page, what was expected and what was found. */
export type Anomaly = {
  kind: AnomalyKind;
  page?: number;
  ops: number[];
  expected?: string | null;
  found?: string | null;
  message: string;
};

export type VerdictStats = {
  ops: number;
  acked: number;
  failed: number;
  pages: number;
  recoveredValues: number;
  checksumErrors: number;
  /**
   * Acks of ops in flight while the device was lying (drop_writes or corrupt_bio_byte armed;
   * a write's bios may go down inside the window even when its ack comes after it): the engine
   * could not know, so losing them is not held against it. Counted, never hidden.
   */
  ackedWhileFaulty: number;
};

export type Verdict = {
  valid: boolean;
  anomalies: Anomaly[];
  stats: VerdictStats;
};
