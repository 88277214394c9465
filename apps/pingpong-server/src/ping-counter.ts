const PING = [0x70, 0x69, 0x6e, 0x67]; // "ping"

/**
 * Counts the `ping`s in a byte stream however TCP splits or merges them
 * ("pi" + "ngping" is two). Bytes that are not part of a `ping` (a newline
 * from `nc`, say) are skipped.
 */
export class PingCounter {
  /** How many bytes of "ping" the previous chunk ended with. */
  private _matched = 0;

  /**
   * Feeds the next `n` bytes of the stream.
   *
   * @returns how many `ping`s they completed.
   */
  feed(bytes: Uint8Array, n = bytes.length): number {
    let pings = 0;
    let m = this._matched;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (b === PING[m]) {
        if (++m === 4) {
          pings++;
          m = 0;
        }
      } else {
        // "ping" has no repeated prefix, so a mismatch restarts at 0, or 1 on a "p".
        m = b === PING[0] ? 1 : 0;
      }
    }
    this._matched = m;
    return pings;
  }
}
