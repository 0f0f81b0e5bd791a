// Random calibration windows drawn from less text than they cover overlap: the same
// tokens are seen several times over (128 windows of 256 tokens from a 4,788-token file
// use each token about 7 times). Said on the terminal and in the report, as the papers'
// protocol assumes a corpus far larger than the set.

/**
 * The warning for `samples` windows of `seqLen` tokens drawn at random from `available`
 * distinct tokens of `what`, or undefined when they can fit without repeating.
 */
export function reuseWarning(samples: number, seqLen: number, available: number, what: string): string | undefined {
  const covered = samples * seqLen;
  if (available <= 0 || covered <= available) return undefined;
  const times = covered / available;
  return (
    `calibration windows repeat: ${samples} windows of ${seqLen} tokens (${covered} tokens) were drawn from the ${available} tokens of ${what}, ` +
    `so each token is used about ${times.toFixed(1)} times over; give more calibration text, fewer --calib-samples or a shorter --seq-len`
  );
}
