/**
 * The frame writer of both sides, writing to a sink that records each send
 * (no socket): frames of one tick leave in one send; corked, frames wait for
 * uncork and leave then, in one send, without a tick; a send pending holds
 * later frames until it is done, whatever the cork.
 */
import { FrameWriter, type FrameSink } from '../src/wire/frame-writer';

/** A sink that records every send (a copy of its bytes); `hold()` makes the next sends wait until `release()`. */
class RecordingSink implements FrameSink {
  readonly sends: Buffer[] = [];
  private _held: Array<() => void> | null = null;

  send(data: Uint8Array, n: number): Promise<number> {
    this.sends.push(Buffer.from(data.subarray(0, n)));
    if (this._held === null) return Promise.resolve(n);
    return new Promise((resolve) => this._held!.push(() => resolve(n)));
  }

  hold(): void {
    this._held = [];
  }

  release(): void {
    const held = this._held ?? [];
    this._held = null;
    for (const resolve of held) resolve();
  }
}

/** The frame of `body`: its 4-byte big-endian length, then the bytes. */
function frame(body: string): Buffer {
  const bytes = Buffer.from(body);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length);
  return Buffer.concat([header, bytes]);
}

/** Lets the ticks and promise reactions already queued run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function writer(sink: RecordingSink): FrameWriter {
  return new FrameWriter(sink, () => {
    throw new Error('no send fails here');
  });
}

test('frames written in one tick leave together in one send, after the tick', async () => {
  const sink = new RecordingSink();
  const w = writer(sink);
  w.write(Buffer.from('a'));
  w.write(Buffer.from('bc'));
  expect(sink.sends).toEqual([]);
  await turn();
  expect(sink.sends).toEqual([Buffer.concat([frame('a'), frame('bc')])]);
  expect(w.idle).toBe(true);
});

test('corked, frames wait for uncork, queue no tick, and leave at uncork in one send', async () => {
  const sink = new RecordingSink();
  const w = writer(sink);
  w.cork();
  w.write(Buffer.from('one'));
  w.write(Buffer.from('two'));
  await turn();
  expect(sink.sends).toEqual([]); // no tick sent them
  expect(w.queuedBytes).toBe(frame('one').length + frame('two').length);
  w.uncork();
  expect(sink.sends).toEqual([Buffer.concat([frame('one'), frame('two')])]); // at once, not on a tick
  await turn();
  expect(sink.sends).toHaveLength(1);
  expect(w.idle).toBe(true);
});

test('corks nest: only the last uncork sends; an uncork with nothing queued sends nothing', async () => {
  const sink = new RecordingSink();
  const w = writer(sink);
  w.cork();
  w.uncork();
  expect(sink.sends).toEqual([]);
  w.cork();
  w.cork();
  w.write(Buffer.from('x'));
  w.uncork();
  expect(sink.sends).toEqual([]);
  w.uncork();
  expect(sink.sends).toEqual([frame('x')]);
});

test('a send pending holds later frames, corked or not, and they follow it in one send once it is done', async () => {
  const sink = new RecordingSink();
  const w = writer(sink);
  sink.hold();
  w.cork();
  w.write(Buffer.from('first'));
  w.uncork();
  expect(sink.sends).toEqual([frame('first')]);
  sink.release();
  sink.hold();
  w.cork();
  w.write(Buffer.from('second'));
  w.uncork(); // a send is still pending: this one waits for it
  w.write(Buffer.from('third'));
  await turn();
  expect(sink.sends).toEqual([frame('first'), Buffer.concat([frame('second'), frame('third')])]);
  sink.release();
  await w.drained();
  expect(w.idle).toBe(true);
});

test('a frame written before a cork still leaves on its tick, with those written while corked', async () => {
  const sink = new RecordingSink();
  const w = writer(sink);
  w.write(Buffer.from('early'));
  w.cork();
  w.write(Buffer.from('late'));
  await turn();
  // The tick queued by the first write sends both; the uncork then has nothing left to send.
  expect(sink.sends).toEqual([Buffer.concat([frame('early'), frame('late')])]);
  w.uncork();
  await turn();
  expect(sink.sends).toHaveLength(1);
});
