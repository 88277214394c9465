/**
 * The PROXY protocol header (HAProxy's specification, versions 1 and 2):
 * a synchronous parser fed bytes as they come, at any split point, that never
 * holds more than one header's worth of bytes, and the encoder.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Which PROXY header versions a server accepts. */
export type ProxyProtocolVersion = 'v1' | 'v2' | 'any';

/** One endpoint named by a PROXY header (`port` is `0` for a UNIX socket, whose `address` is its path). */
export interface ProxyAddress {
  /** IPv4 or IPv6 address, or a UNIX socket's path. */
  readonly address: string;
  /** TCP port; `0` for a UNIX socket. */
  readonly port: number;
}

/** One type-length-value field of a version 2 header (type `0x20` is `PP2_TYPE_SSL`, its value holds sub-fields). */
export interface ProxyTlv {
  /** The field's type byte (`0x01` ALPN, `0x02` AUTHORITY, `0x03` CRC32C, `0x04` NOOP, `0x05` UNIQUE_ID, `0x20` SSL, `0x30` NETNS, ...). */
  readonly type: number;
  /** The field's bytes, as sent. */
  readonly value: Uint8Array;
}

/** What a PROXY header said: `conn.proxy` on a server with `proxyProtocol`. */
export interface ProxyInfo {
  /** The header's version. */
  readonly version: 1 | 2;
  /** `'PROXY'`: relayed for a client; `'LOCAL'`: the balancer's own connection (a health check). Version 1 is always `'PROXY'`. */
  readonly command: 'PROXY' | 'LOCAL';
  /** The client's transport; `'UNKNOWN'` when the balancer did not say. */
  readonly protocol: 'TCP4' | 'TCP6' | 'UNIX' | 'UNKNOWN';
  /** The client's address, or `null` for `LOCAL` and `UNKNOWN`. */
  readonly source: ProxyAddress | null;
  /** The address the client connected to (on the balancer), or `null` for `LOCAL` and `UNKNOWN`. */
  readonly destination: ProxyAddress | null;
  /** `"ip:port"` of the balancer: the socket's own peer. */
  readonly via: string;
  /** Version 2's type-length-value fields in the order they came (empty for version 1). */
  readonly tlvs: ReadonlyArray<ProxyTlv>;
}

/** What {@link encodeProxyHeader} takes: a {@link ProxyInfo} without `via`, with `tlvs` optional. */
export type ProxyHeaderInit = Omit<ProxyInfo, 'via' | 'tlvs'> & {
  /** Version 2's type-length-value fields to write, in order; none when left out (version 1 takes none: a `TypeError`). */
  readonly tlvs?: ReadonlyArray<ProxyTlv>;
};

/** The 12 bytes that open a version 2 header. @internal */
export const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
/** A version 1 header is at most this long, CRLF included. @internal */
export const V1_MAX_BYTES = 107;
/**
 * A version 2 header is refused when longer than this (16 fixed bytes and the
 * length field's bytes). The specification lets the length field say up to
 * 65535; real balancers send addresses and a few TLVs, well under 1 KiB
 * (HAProxy's own limit is its buffer size). A bound keeps what a hostile peer
 * can make the server hold per connection small.
 * @internal
 */
export const V2_MAX_BYTES = 4096;

/** TLV types of the specification. @internal */
export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  SSL_VERSION: 0x21,
  SSL_CN: 0x22,
  SSL_CIPHER: 0x23,
  SSL_SIG_ALG: 0x24,
  SSL_KEY_ALG: 0x25,
  NETNS: 0x30,
} as const;

const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20); // "PROXY "
const CR = 0x0d;
const LF = 0x0a;
const ADDRESS_BYTES = [0, 12, 36, 216];
const UNIQUE_ID_MAX = 128;

/** {@link ProxyHeaderParser.feed}: more bytes are needed. @internal */
export const PROXY_NEED_MORE = -1;
/** {@link ProxyHeaderParser.feed}: the bytes are not a valid header; see `error`. @internal */
export const PROXY_INVALID = -2;

/**
 * Reads one PROXY header from bytes fed in pieces of any size. `feed` copies
 * at most one header's worth of bytes (107 for version 1, {@link V2_MAX_BYTES}
 * for version 2) and tells how many bytes of the piece belonged to the header,
 * so the caller keeps what follows it. It decides as early as it can: the
 * first byte that cannot start a header fails it.
 * @internal
 */
export class ProxyHeaderParser {
  /** The header, once `feed` returned a count. */
  info: Omit<ProxyInfo, 'via'> | null = null;
  /** What was wrong, once `feed` returned {@link PROXY_INVALID}. */
  error = '';
  /** Version 1's longest line, or version 2's fixed part; grown to a version 2 header's exact length once known. */
  private _buf = new Uint8Array(V1_MAX_BYTES);
  private _len = 0;
  /** 1 or 2 once the first byte told; 0 before. */
  private _version = 0;
  /** Version 2: the whole header's length once its first 16 bytes are in. */
  private _v2Total = 0;

  constructor(private readonly _accept: ProxyProtocolVersion) {}

  /** Bytes taken so far. */
  get taken(): number {
    return this._len;
  }

  /**
   * Takes `chunk[start..end)`. Returns how many of those bytes ended the
   * header (the rest are the application's), {@link PROXY_NEED_MORE} when all
   * were taken and more are needed, or {@link PROXY_INVALID}.
   */
  feed(chunk: Uint8Array, start = 0, end = chunk.length): number {
    if (this.info !== null || this.error !== '') throw new Error('the PROXY header parser is done; make a new one');
    let i = start;
    while (i < end) {
      const b = chunk[i];
      const at = this._len;
      if (this._version === 0) {
        if (b === V1_PREFIX[0] && this._accept !== 'v2') this._version = 1;
        else if (b === V2_SIGNATURE[0] && this._accept !== 'v1') this._version = 2;
        else return this._fail(`not a PROXY ${this._expected()} header: it starts with byte 0x${hex(b)}`);
      }
      if (this._version === 1) {
        if (at >= V1_MAX_BYTES) return this._fail(`version 1 header has no CRLF within ${V1_MAX_BYTES} bytes`);
        if (at < V1_PREFIX.length && b !== V1_PREFIX[at])
          return this._fail(`not a PROXY ${this._expected()} header: bad signature at byte ${at}`);
        this._buf[this._len++] = b;
        i++;
        if (b === LF) {
          if (at === 0 || this._buf[at - 1] !== CR) return this._fail('version 1 header has a LF without CR before it');
          return this._parseV1() ? i - start : PROXY_INVALID;
        }
        if (at > 0 && this._buf[at - 1] === CR) return this._fail('version 1 header has a CR without LF after it');
        continue;
      }
      // Version 2: the signature and fixed part byte by byte, then the rest in one copy.
      if (at < 16) {
        if (at < 12 && b !== V2_SIGNATURE[at])
          return this._fail(`not a PROXY ${this._expected()} header: bad signature at byte ${at}`);
        if (at === 12 && b >> 4 !== 2)
          return this._fail(`version 2 header has version ${b >> 4} in byte 12 (0x${hex(b)}), expected 2`);
        if (at === 12 && (b & 0xf) > 1)
          return this._fail(`version 2 header has command ${b & 0xf}; 0 (LOCAL) and 1 (PROXY) exist`);
        this._buf[this._len++] = b;
        i++;
        if (this._len === 16) {
          this._v2Total = 16 + ((this._buf[14] << 8) | this._buf[15]);
          if (this._v2Total > V2_MAX_BYTES) {
            return this._fail(
              `version 2 header is ${this._v2Total} bytes long, more than the ${V2_MAX_BYTES} this server accepts`,
            );
          }
          if (this._v2Total > this._buf.length) {
            const grown = new Uint8Array(this._v2Total);
            grown.set(this._buf.subarray(0, 16));
            this._buf = grown;
          }
          if (this._v2Total === 16) return this._parseV2() ? i - start : PROXY_INVALID;
        }
        continue;
      }
      const n = Math.min(end - i, this._v2Total - at);
      this._buf.set(chunk.subarray(i, i + n), at);
      this._len += n;
      i += n;
      if (this._len === this._v2Total) return this._parseV2() ? i - start : PROXY_INVALID;
    }
    return PROXY_NEED_MORE;
  }

  private _expected(): string {
    return this._accept === 'any' ? 'v1 or v2' : this._accept;
  }

  private _fail(why: string): number {
    this.error = why;
    return PROXY_INVALID;
  }

  private _parseV1(): boolean {
    const line = String.fromCharCode(...this._buf.subarray(0, this._len - 2));
    const parts = line.split(' ');
    const proto = parts[1];
    if (proto === 'UNKNOWN') {
      this.info = { version: 1, command: 'PROXY', protocol: 'UNKNOWN', source: null, destination: null, tlvs: [] };
      return true;
    }
    if (proto !== 'TCP4' && proto !== 'TCP6')
      return !this._fail(`version 1 header has protocol ${JSON.stringify(proto ?? '')}; TCP4, TCP6 and UNKNOWN exist`);
    if (parts.length !== 6)
      return !this._fail(
        `version 1 header has ${parts.length - 2} fields after the protocol, expected 4 (addresses and ports, single spaces)`,
      );
    const [, , src, dst, sport, dport] = parts as [string, string, string, string, string, string];
    const isIp = proto === 'TCP4' ? isIPv4 : isIPv6;
    if (!isIp(src) || !isIp(dst))
      return !this._fail(`version 1 header has an address that is not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
    const sp = v1Port(sport);
    const dp = v1Port(dport);
    if (sp < 0 || dp < 0) return !this._fail('version 1 header has a port that is not a decimal from 0 to 65535');
    this.info = {
      version: 1,
      command: 'PROXY',
      protocol: proto,
      source: { address: src, port: sp },
      destination: { address: dst, port: dp },
      tlvs: [],
    };
    return true;
  }

  private _parseV2(): boolean {
    const buf = this._buf;
    const command = (buf[12] & 0xf) === 0 ? 'LOCAL' : 'PROXY';
    const family = buf[13] >> 4;
    const transport = buf[13] & 0xf;
    const total = this._v2Total;
    if (family > 3) return !this._fail(`version 2 header has address family ${family}; 0 to 3 exist`);
    if (transport > 2) return !this._fail(`version 2 header has transport ${transport}; 0 to 2 exist`);
    // LOCAL: the specification says to ignore the family and the addresses, and use the socket's.
    if (command === 'PROXY' && family !== 0 && transport !== 1)
      return !this._fail('version 2 header relays a datagram transport; only STREAM (TCP) is served');
    const addrBytes = ADDRESS_BYTES[family];
    if (total - 16 < addrBytes)
      return !this._fail(`version 2 header is too short for its addresses: ${total - 16} bytes, needs ${addrBytes}`);
    const tlvs = readTlvs(buf, 16 + addrBytes, total);
    if (typeof tlvs === 'string') {
      // UNSPEC: the block is the sender's business; the specification says to skip it.
      if (family !== 0) return !this._fail(tlvs);
    }
    const list = typeof tlvs === 'string' ? [] : tlvs;
    for (const t of list) {
      if (t.type === PP2_TYPE.CRC32C) {
        if (t.value.length !== 4)
          return !this._fail(`version 2 header has a CRC32C field of ${t.value.length} bytes, expected 4`);
        const offset = t.value.byteOffset - buf.byteOffset;
        const sent = readU32(buf, offset);
        buf.fill(0, offset, offset + 4);
        const computed = crc32c(buf.subarray(0, total));
        if (computed !== sent)
          return !this._fail(
            `version 2 header's CRC32C is 0x${sent.toString(16)}, the bytes give 0x${computed.toString(16)}`,
          );
      } else if (t.type === PP2_TYPE.UNIQUE_ID && t.value.length > UNIQUE_ID_MAX) {
        return !this._fail(`version 2 header has a UNIQUE_ID of ${t.value.length} bytes, more than ${UNIQUE_ID_MAX}`);
      } else if (t.type === PP2_TYPE.SSL) {
        if (t.value.length < 5) return !this._fail('version 2 header has an SSL field shorter than its 5 fixed bytes');
        const sub = readTlvs(t.value, 5, t.value.length);
        if (typeof sub === 'string') return !this._fail(`SSL field: ${sub}`);
      }
    }
    // The values are views of the parser's buffer: copy them out, it may be reused.
    const kept = list.map((t) => ({ type: t.type, value: t.value.slice() }));
    if (command === 'LOCAL' || family === 0) {
      this.info = { version: 2, command, protocol: 'UNKNOWN', source: null, destination: null, tlvs: kept };
      return true;
    }
    let source: ProxyAddress;
    let destination: ProxyAddress;
    let protocol: ProxyInfo['protocol'];
    if (family === 1) {
      protocol = 'TCP4';
      source = { address: buf.subarray(16, 20).join('.'), port: readU16(buf, 24) };
      destination = { address: buf.subarray(20, 24).join('.'), port: readU16(buf, 26) };
    } else if (family === 2) {
      protocol = 'TCP6';
      source = { address: ipv6Text(buf, 16), port: readU16(buf, 48) };
      destination = { address: ipv6Text(buf, 32), port: readU16(buf, 50) };
    } else {
      protocol = 'UNIX';
      source = { address: unixPath(buf, 16), port: 0 };
      destination = { address: unixPath(buf, 124), port: 0 };
    }
    this.info = { version: 2, command, protocol, source, destination, tlvs: kept };
    return true;
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function v1Port(s: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

function readU16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

/** The TLVs of `buf[from..to)` as views of it, or what was wrong. */
function readTlvs(buf: Uint8Array, from: number, to: number): ProxyTlv[] | string {
  const out: ProxyTlv[] = [];
  let i = from;
  while (i < to) {
    if (to - i < 3) return `a TLV at byte ${i} is cut short: ${to - i} bytes left, 3 needed for its type and length`;
    const len = readU16(buf, i + 1);
    if (i + 3 + len > to)
      return `TLV of type 0x${hex(buf[i])} at byte ${i} says ${len} bytes, past the end of its block by ${i + 3 + len - to}`;
    out.push({ type: buf[i], value: buf.subarray(i + 3, i + 3 + len) });
    i += 3 + len;
  }
  return out;
}

/** An IPv6 address as Node writes one: shortest form, and an IPv4-mapped one as `::ffff:a.b.c.d`. */
function ipv6Text(buf: Uint8Array, at: number): string {
  let mapped = readU16(buf, at + 10) === 0xffff;
  for (let k = 0; k < 10 && mapped; k++) mapped = buf[at + k] === 0;
  if (mapped) return `::ffff:${buf.subarray(at + 12, at + 16).join('.')}`;
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(readU16(buf, at + 2 * g).toString(16));
  // Shortest form: the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let g = 0; g < 8;) {
    if (groups[g] !== '0') {
      g++;
      continue;
    }
    let e = g;
    while (e < 8 && groups[e] === '0') e++;
    if (e - g > bestLen) {
      best = g;
      bestLen = e - g;
    }
    g = e;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function unixPath(buf: Uint8Array, at: number): string {
  let end = at;
  while (end < at + 108 && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + at, end - at).toString('utf8');
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as the PROXY header's CRC32C field carries it. @internal */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Encodes a PROXY header, version 1 or 2, from the shape of `conn.proxy`: for
 * clients that stand in for a balancer, and for tests. A version 2 header with
 * a `CRC32C` TLV (type `0x03`, any 4-byte value) gets it filled in.
 *
 * @example
 * ```ts
 * const header = encodeProxyHeader({
 *   version: 2, command: 'PROXY', protocol: 'TCP4',
 *   source: { address: '203.0.113.7', port: 51234 },
 *   destination: { address: '192.0.2.1', port: 443 },
 * });
 * await client.send(header);
 * ```
 * @throws TypeError or RangeError when a field is missing or out of range, or
 *   the shape cannot be said in that version (version 1 has no `LOCAL`, no
 *   `UNIX`, no TLVs).
 */
export function encodeProxyHeader(info: ProxyHeaderInit): Uint8Array {
  if (info === null || typeof info !== 'object')
    throw new TypeError('encodeProxyHeader needs an object shaped like conn.proxy');
  const { version, command, protocol } = info;
  if (command !== 'PROXY' && command !== 'LOCAL')
    throw new TypeError(`command must be 'PROXY' or 'LOCAL', got ${String(command)}`);
  if (!['TCP4', 'TCP6', 'UNIX', 'UNKNOWN'].includes(protocol))
    throw new TypeError(`protocol must be TCP4, TCP6, UNIX or UNKNOWN, got ${String(protocol)}`);
  const tlvs = info.tlvs ?? [];
  const hasAddresses = protocol !== 'UNKNOWN';
  if (hasAddresses) {
    checkEndpoint('source', info.source, protocol);
    checkEndpoint('destination', info.destination, protocol);
  }
  if (version === 1) {
    if (command !== 'PROXY') throw new TypeError('a version 1 header has no LOCAL command: use version 2');
    if (protocol === 'UNIX') throw new TypeError('a version 1 header cannot carry a UNIX address: use version 2');
    if (tlvs.length > 0) throw new TypeError('a version 1 header has no TLVs: use version 2');
    const line =
      protocol === 'UNKNOWN'
        ? 'PROXY UNKNOWN\r\n'
        : `PROXY ${protocol} ${info.source!.address} ${info.destination!.address} ${info.source!.port} ${info.destination!.port}\r\n`;
    return Buffer.from(line, 'latin1');
  }
  if (version !== 2) throw new TypeError(`version must be 1 or 2, got ${String(version)}`);
  const family = protocol === 'TCP4' ? 1 : protocol === 'TCP6' ? 2 : protocol === 'UNIX' ? 3 : 0;
  const addrBytes = ADDRESS_BYTES[family];
  let tlvBytes = 0;
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 255)
      throw new RangeError(`TLV type must be a byte, got ${t.type}`);
    if (!(t.value instanceof Uint8Array) || t.value.length > 65535)
      throw new RangeError('TLV value must be a Uint8Array of at most 65535 bytes');
    tlvBytes += 3 + t.value.length;
  }
  const total = 16 + addrBytes + tlvBytes;
  if (total - 16 > 65535)
    throw new RangeError(`the header's addresses and TLVs take ${total - 16} bytes, more than 65535`);
  const out = new Uint8Array(total);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x20 | (command === 'PROXY' ? 1 : 0);
  out[13] = (family << 4) | (family === 0 ? 0 : 1);
  out[14] = (total - 16) >> 8;
  out[15] = (total - 16) & 0xff;
  const src = info.source;
  const dst = info.destination;
  if (family === 1) {
    out.set(src!.address.split('.').map(Number), 16);
    out.set(dst!.address.split('.').map(Number), 20);
    writeU16(out, 24, src!.port);
    writeU16(out, 26, dst!.port);
  } else if (family === 2) {
    out.set(ipv6Bytes(src!.address), 16);
    out.set(ipv6Bytes(dst!.address), 32);
    writeU16(out, 48, src!.port);
    writeU16(out, 50, dst!.port);
  } else if (family === 3) {
    out.set(unixBytes(src!.address), 16);
    out.set(unixBytes(dst!.address), 124);
  }
  let at = 16 + addrBytes;
  let crcAt = -1;
  for (const t of tlvs) {
    out[at] = t.type;
    writeU16(out, at + 1, t.value.length);
    if (t.type === PP2_TYPE.CRC32C) {
      if (t.value.length !== 4) throw new RangeError('a CRC32C TLV has 4 bytes');
      crcAt = at + 3;
    } else {
      out.set(t.value, at + 3);
    }
    at += 3 + t.value.length;
  }
  if (crcAt >= 0) {
    const c = crc32c(out);
    out[crcAt] = c >>> 24;
    out[crcAt + 1] = (c >>> 16) & 0xff;
    out[crcAt + 2] = (c >>> 8) & 0xff;
    out[crcAt + 3] = c & 0xff;
  }
  return out;
}

function checkEndpoint(name: string, a: ProxyAddress | null, protocol: string): void {
  if (a === null || typeof a !== 'object') throw new TypeError(`${name} is needed for protocol ${protocol}`);
  if (protocol === 'UNIX') {
    if (typeof a.address !== 'string' || Buffer.byteLength(a.address) > 107)
      throw new RangeError(`${name}.address must be a path of at most 107 bytes`);
    return;
  }
  const ok = protocol === 'TCP4' ? isIPv4(a.address) : isIPv6(a.address);
  if (!ok)
    throw new TypeError(
      `${name}.address must be an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address, got ${String(a.address)}`,
    );
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535)
    throw new RangeError(`${name}.port must be an integer from 0 to 65535, got ${a.port}`);
}

function writeU16(out: Uint8Array, at: number, v: number): void {
  out[at] = v >> 8;
  out[at + 1] = v & 0xff;
}

/** The 16 bytes of an IPv6 address in text (`::`, and a dotted IPv4 tail, allowed). */
function ipv6Bytes(text: string): Uint8Array {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = last.split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const halves = s.split('::');
  let groups: number[];
  if (halves.length === 2) {
    const head = parse(halves[0]);
    const rest = parse(halves[1]);
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    groups = parse(s);
  }
  const out = new Uint8Array(16);
  for (let g = 0; g < 8; g++) writeU16(out, 2 * g, groups[g] ?? 0);
  return out;
}

function unixBytes(path: string): Uint8Array {
  const out = new Uint8Array(108);
  out.set(Buffer.from(path, 'utf8').subarray(0, 107));
  return out;
}
