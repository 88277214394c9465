/**
 * A model test of Pipeline over real loopback sockets: random interleavings
 * of requests (plain, with a 1 ms timeout, abortable), aborts, turns of the
 * event loop, replies written in pieces split at random bytes, and a peer that
 * closes in the middle of a reply. Whatever happens, no request ever receives
 * another's reply, replies go out in the order the peer got the requests, a
 * request said to be removed before it was sent never reached the peer, and
 * every request settles.
 */
import fc from 'fast-check';
import type { Client, Pipeline, TcpError } from '../src';
import { guardLeaks } from './helpers';
import { linePeer, linePipeline, payloadOf, replyOf, type Reply } from './pipeline-peer';

guardLeaks();

type Action =
  | { kind: 'request'; wait: 'none' | 'timeout' | 'abortable' }
  | { kind: 'abort'; pick: number }
  | { kind: 'answer'; cuts: number[] }
  | { kind: 'turn' }
  | { kind: 'closeMidReply'; at: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      wait: fc.constantFrom('none' as const, 'none' as const, 'timeout' as const, 'abortable' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      cuts: fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 30 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('turn' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('closeMidReply' as const), at: fc.integer({ min: 1, max: 20 }) }),
  },
);

interface Tracked {
  id: number;
  ac: AbortController | null;
  reply?: Reply;
  error?: TcpError;
  settled: boolean;
}

const tried = {
  runs: 0,
  requests: 0,
  answered: 0,
  notSentTimeout: 0,
  notSentAbort: 0,
  failedWithPipeline: 0,
  midReplyCloses: 0,
  pieces: 0,
  pipelineFailures: 0,
};

async function runCase(maxInFlight: number, actions: Action[]): Promise<void> {
  tried.runs++;
  const peer = await linePeer();
  let c: Client | null = null;
  let pipe: Pipeline<Reply, Client> | null = null;
  const all: Tracked[] = [];
  const resolvedOrder: number[] = [];
  let peerClosed = false;
  try {
    ({ c, pipe } = await linePipeline(peer.port, maxInFlight));
    const p = pipe;
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    for (const a of actions) {
      if (a.kind === 'request') {
        const t: Tracked = {
          id: all.length,
          ac: a.wait === 'abortable' ? new AbortController() : null,
          settled: false,
        };
        all.push(t);
        tried.requests++;
        const opts = a.wait === 'timeout' ? 1 : t.ac !== null ? { signal: t.ac.signal } : undefined;
        p.request(`Q${t.id}\n`, opts).then(
          (reply) => {
            t.reply = reply;
            t.settled = true;
            resolvedOrder.push(t.id);
          },
          (err: TcpError) => {
            t.error = err;
            t.settled = true;
          },
        );
      } else if (a.kind === 'abort') {
        const live = all.filter((t) => t.ac !== null && !t.settled && !t.ac.signal.aborted);
        if (live.length > 0) live[a.pick % live.length].ac!.abort();
      } else if (a.kind === 'answer') {
        if (!peerClosed && peer.answered < peer.received.length) {
          tried.pieces += a.cuts.length + 1;
          await peer.answerNext(a.cuts);
        }
      } else if (a.kind === 'turn') {
        await turn();
      } else if (!peerClosed && peer.answered < peer.received.length) {
        const id = peer.received[peer.answered++];
        const sock = await peer.sock();
        sock.end(replyOf(id).slice(0, Math.min(a.at, replyOf(id).length - 1)));
        peerClosed = true;
        tried.midReplyCloses++;
      }
    }
    // The end: the peer answers whatever comes, until every request has settled.
    for (let spins = 0; all.some((t) => !t.settled); spins++) {
      if (spins > 10_000) throw new Error('requests never settled');
      if (!peerClosed && peer.answered < peer.received.length) await peer.answerNext();
      else await turn();
    }
    // No request got another's reply; replies were taken in the order the peer got the requests.
    for (const t of all) {
      if (t.reply !== undefined) {
        expect(t.reply).toEqual({ id: t.id, payload: payloadOf(t.id) });
        tried.answered++;
      } else if (/before it was sent/.test(t.error!.message)) {
        expect(peer.received).not.toContain(t.id);
        if (t.error!.code === 'ABORT_ERR') tried.notSentAbort++;
        else tried.notSentTimeout++;
      } else {
        expect(p.closed).toBe(true);
        tried.failedWithPipeline++;
      }
    }
    expect(resolvedOrder).toEqual(peer.received.slice(0, resolvedOrder.length));
    if (p.lastError !== null) tried.pipelineFailures++;
  } finally {
    await pipe?.close();
    c?.close();
    await peer.close();
  }
}

test('no request ever receives another reply, whatever the interleaving of requests, timeouts, aborts, split replies and a close', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.array(actionArb, { minLength: 5, maxLength: 60 }), runCase),
    { numRuns: 300 },
  );
  // What was tried, so a run that tried nothing interesting would show.
  console.info(`pipeline model: ${JSON.stringify(tried)}`);
  expect(tried.answered).toBeGreaterThan(100);
  expect(tried.notSentTimeout + tried.notSentAbort).toBeGreaterThan(0);
  expect(tried.midReplyCloses).toBeGreaterThan(0);
  expect(tried.pipelineFailures).toBeGreaterThan(0);
});
