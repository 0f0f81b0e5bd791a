// Y axes fitted to the data: a fixed axis start leaves the range where methods differ
// as a flat strip, so the domain runs from the data's minimum to its maximum, padded.

export interface YScale {
  type: 'log' | 'linear';
  domain: [number, number];
  nice: false;
  zero?: false;
}

/** Ratio of max to min above which the axis is logarithmic. */
export const LOG_RANGE_RATIO = 10;
/** Padding on each side, as a fraction of the (log or linear) span. */
const PAD = 0.06;

/** A y scale covering every value (all finite and > 0), log when they span a wide range. */
export function fittedScale(values: number[]): YScale {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (!(lo > 0) || !Number.isFinite(hi)) throw new Error(`fittedScale needs finite positive values, got ${lo}..${hi}`);
  if (hi / lo > LOG_RANGE_RATIO) {
    const pad = (Math.log(hi) - Math.log(lo)) * PAD;
    return { type: 'log', domain: [lo * Math.exp(-pad), hi * Math.exp(pad)], nice: false };
  }
  // Equal values still get an axis of their own: 5% around them.
  const pad = hi > lo ? (hi - lo) * PAD : lo * 0.05;
  return { type: 'linear', domain: [Math.max(lo - pad, 0), hi + pad], nice: false, zero: false };
}
