// A character-level calibration tokenizer for sampling tests: BOS = 1, every UTF-16 unit
// is its code + 10. Records the text of every call, in order.
export function countingTokenizer() {
  const calls: string[] = [];
  return {
    calls,
    encode(text: string, opts: { bos?: boolean } = {}) {
      calls.push(text);
      const ids = Array.from(text, (c) => c.charCodeAt(0) + 10);
      return opts.bos ? [1, ...ids] : ids;
    },
  };
}
