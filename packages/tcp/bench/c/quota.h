/*
 * The count mode of load.c and tls-load.c: given a negative MS, -COUNT, each
 * connection sends exactly COUNT messages, and the run ends once all of them
 * are echoed (for counting a server's instructions per message).
 */

/* How many messages a connection still sends, and still waits for. */
struct quota {
  long long unsent; /* messages still to send after those first in flight */
  long long owed;   /* messages still to be echoed */
};

/*
 * Reads MS: returns COUNT (0 without it), and then gives the run ten minutes
 * and puts no more than COUNT messages in flight at first.
 */
static long long count_mode(long long *ms, int *window) {
  long long per_conn = *ms < 0 ? -*ms : 0;
  if (per_conn > 0) {
    *ms = 600000;
    if (*window > per_conn) *window = (int)per_conn;
  }
  return per_conn;
}

/* A connection's quota, `window` messages being in flight at first. */
static struct quota quota_of(long long per_conn, int window) {
  struct quota q = {per_conn - window, per_conn};
  return q;
}

/*
 * An answer came back: queues the next message of `size` bytes if one is
 * left, and returns 1 when it was the connection's last answer (always 0,
 * and always the next message, without COUNT).
 */
static int answered(struct quota *q, long *pending_out, long size, long long per_conn) {
  if (per_conn == 0) {
    *pending_out += size;
    return 0;
  }
  if (q->unsent > 0) {
    q->unsent--;
    *pending_out += size;
  }
  return --q->owed == 0;
}
