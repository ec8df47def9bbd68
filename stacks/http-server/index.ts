// http-server: an HTTP/1.1 server over the SDK's TCP (guest-sdk/assembly/tcp), serving
// static responses of configured sizes. GET and HEAD; keep-alive (HTTP/1.1 default,
// HTTP/1.0 with "Connection: keep-alive") and "Connection: close"; pipelined requests are
// answered in order; 404 for unknown paths, 405 for other methods, 400/431/501 (then
// close) for requests it will not parse. IPv4 and IPv6, on every TCP tuple the stack owns.
//
// Config (all optional):
//   size=N            body size of "/" in bytes (default 13: "Hello, msh!\r\n" pattern)
//   route=/path:N     another path with an N-byte body (repeatable)
//   content-type=T    Content-Type of the bodies (default application/octet-stream)
//   idle-timeout=S    close keep-alive connections idle for S seconds (default 60, 0 = never)
//   rcvbuf=N sndbuf=N TCP buffers per connection (default 16384 / 65536, powers of two)
//   max-conns=N       TCP connections in any state (default 4096)
//   syn-backlog=N     half-open connections per port before SYN cookies (default 256)
//   cc=newreno|cubic|fixed   congestion control (default newreno)
//   buffer-budget=N   bytes of TCP buffers in all (default 48 MiB)
//
// Per request the server parses in place from the receive ring (no allocation); a
// response is its prebuilt header then pieces of one 64 KiB body block (any body size,
// constant memory), copied once into the send buffer and once into the frame.

import { Stack, registerStack, logInfo, logWarn, Protocol, randomFill, nextHopMac } from "../../guest-sdk/assembly/index";
import { loadMac } from "../../guest-sdk/assembly/wire/ip";
import {
  TcpEndpoint, TcpConfig, TcpNetIf, FrameTx, NextHopResolver, TcpTuple, TcpConnection,
  TcpHandler, TcpListener, TcpListenHandler, CloseReason, ccFactoryByName,
} from "../../guest-sdk/assembly/tcp/index";
export * from "../../guest-sdk/assembly/exports";

const SEC: u64 = 1_000_000_000;
/** Longest request head (request line + headers) accepted; longer gets 431. */
const MAX_HEAD: u32 = 8192;
const MAX_BODY_SIZE: u32 = 1 << 30;
/** Bytes of generated body kept in memory: the 13-byte greeting and 2521 a-z cycles. */
const BODY_BLOCK: u32 = 13 + 26 * 2521;

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

const CONN_DEFAULT = 0; // HTTP/1.1 keep-alive: no Connection header
const CONN_KEEP = 1;    // HTTP/1.0 keep-alive: "Connection: keep-alive"
const CONN_CLOSE = 2;   // "Connection: close"

/**
 * One response kind: status, body and the three prebuilt header variants. The body is
 * either its own text (error responses) or a prefix of the server's shared body block.
 */
class Response {
  bodyLen: u32;
  /** Own body bytes, or null for the shared block. */
  text: ArrayBuffer | null = null;
  heads: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(3);

  static text(status: string, body: string, extra: string = ""): Response {
    const b = String.UTF8.encode(body);
    const r = new Response(status, "text/plain", <u32>b.byteLength, extra);
    r.text = b;
    return r;
  }

  constructor(status: string, contentType: string, bodyLen: u32, extra: string = "") {
    this.bodyLen = bodyLen;
    const base = "HTTP/1.1 " + status + "\r\nServer: msh\r\nContent-Type: " + contentType +
      "\r\nContent-Length: " + bodyLen.toString() + "\r\n" + extra;
    this.heads[CONN_DEFAULT] = String.UTF8.encode(base + "\r\n");
    this.heads[CONN_KEEP] = String.UTF8.encode(base + "Connection: keep-alive\r\n\r\n");
    this.heads[CONN_CLOSE] = String.UTF8.encode(base + "Connection: close\r\n\r\n");
  }
}

class Route {
  path: ArrayBuffer;
  response: Response;
  constructor(path: string, response: Response) {
    this.path = String.UTF8.encode(path);
    this.response = response;
  }
}

// ---------------------------------------------------------------------------------------
// Request parsing helpers (bytes, no strings)
// ---------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function lower(c: u32): u32 { return c >= 65 && c <= 90 ? c | 0x20 : c; }

/** Case-insensitive compare of `n` bytes at `p` with the lowercase ASCII `name`. */
function eqNoCase(p: usize, n: u32, name: string): bool {
  if (<u32>name.length != n) return false;
  for (let i: u32 = 0; i < n; i++) {
    if (lower(<u32>load<u8>(p + i)) != <u32>name.charCodeAt(<i32>i)) return false;
  }
  return true;
}

/** Does the comma-separated header value at [p, p+n) contain `token` (lowercase)? */
function hasToken(p: usize, n: u32, token: string): bool {
  let i: u32 = 0;
  while (i < n) {
    while (i < n && (load<u8>(p + i) == 32 || load<u8>(p + i) == 9 || load<u8>(p + i) == 44)) i++;
    const s = i;
    while (i < n && load<u8>(p + i) != 44) i++;
    let e = i;
    while (e > s && (load<u8>(p + e - 1) == 32 || load<u8>(p + e - 1) == 9)) e--;
    if (eqNoCase(p + s, e - s, token)) return true;
  }
  return false;
}

/** Decimal digits at [p, p+n) with optional surrounding blanks; -1 if not a number. */
function parseDecimal(p: usize, n: u32): i64 {
  let i: u32 = 0;
  while (i < n && load<u8>(p + i) == 32) i++;
  let v: i64 = 0;
  let digits = 0;
  while (i < n) {
    const c = <u32>load<u8>(p + i);
    if (c < 48 || c > 57) break;
    v = v * 10 + <i64>(c - 48);
    if (v > 0xffffffffff) return -1;
    digits++;
    i++;
  }
  while (i < n && load<u8>(p + i) == 32) i++;
  return digits > 0 && i == n ? v : -1;
}

// ---------------------------------------------------------------------------------------
// One connection
// ---------------------------------------------------------------------------------------

class Session extends TcpHandler {
  server: HttpServer;
  conn: TcpConnection;
  /**
   * Last completed request or response (ns). Trickling bytes do not count, so a client
   * that never completes a request is closed after idle-timeout too.
   */
  /** Bytes of readable data already searched for the end of the head. */
  scanned: u32 = 0;
  /** Request body bytes still to discard. */
  skip: u64 = 0;
  /** Response being written: header bytes, then body bytes. */
  head: ArrayBuffer | null = null;
  headOff: u32 = 0;
  bodyLeft: u32 = 0;
  bodyOff: u32 = 0;
  bodySrc: usize = 0;
  closeAfter: bool = false;
  closing: bool = false;
  lastActive: u64 = 0;
  requests: u32 = 0;
  /** Position in the server's session list (swap-remove). */
  index: i32 = -1;

  constructor(server: HttpServer, conn: TcpConnection, now: u64) {
    super();
    this.server = server;
    this.conn = conn;
    this.lastActive = now;
  }

  onReadable(c: TcpConnection): void { this.serve(c); }

  onWritable(c: TcpConnection): void { this.serve(c); }

  onClosed(c: TcpConnection, reason: CloseReason): void {
    this.server.removeSession(this);
    c.recycle(); // neither this session nor the server touches c again
  }

  /** Writes what is pending, then answers buffered requests until blocked. */
  serve(c: TcpConnection): void {
    while (true) {
      if (!this.pump(c)) return;          // response still being written
      if (this.closing) {
        c.consume(c.readable);            // nothing more is answered: discard
        return;
      }
      if (this.skip > 0) {
        const n = <u32>min(<u64>c.readable, this.skip);
        c.consume(n);
        this.skip -= <u64>n;
        if (this.skip > 0) return;
      }
      if (!this.nextRequest(c)) break;
    }
    if (c.eof && !this.closing) {
      // The client finished sending and everything it asked for is queued.
      this.closing = true;
      c.close();
    }
  }

  /** Pushes the current response into the send buffer; true when it is all queued. */
  pump(c: TcpConnection): bool {
    const h = this.head;
    if (h !== null) {
      const len = <u32>h.byteLength;
      if (this.headOff < len) {
        const w = c.write(changetype<usize>(h) + this.headOff, len - this.headOff);
        if (w < 0) { this.abortSession(c); return false; }
        this.headOff += <u32>w;
        if (this.headOff < len) return false;
      }
      while (this.bodyLeft > 0) {
        // Own text is one piece; the generated body comes from the pattern block in
        // pieces that keep its 26-byte phase.
        let src = this.bodySrc + this.bodyOff;
        let n = this.bodyLeft;
        if (this.bodySrc == 0) {
          src = this.server.bodyPiece(this.bodyOff);
          n = min(n, this.server.pieceLen);
        }
        const w = c.write(src, n);
        if (w < 0) { this.abortSession(c); return false; }
        if (w == 0) return false;
        this.bodyOff += <u32>w;
        this.bodyLeft -= <u32>w;
        this.lastActive = this.server.now; // progress: the client is reading
      }
      this.head = null;
      this.lastActive = this.server.now;
      this.server.responses++;
      if (this.closeAfter && !this.closing) {
        this.closing = true;
        c.close();
      }
    }
    return true;
  }

  abortSession(c: TcpConnection): void {
    this.head = null;
    this.bodyLeft = 0;
    this.closing = true;
    c.abort();
  }

  /**
   * Looks for a complete request head in the readable bytes; answers it. False when no
   * complete head is buffered yet (or the connection is closing).
   */
  nextRequest(c: TcpConnection): bool {
    const avail = c.readable;
    if (avail == 0) return false;
    // Search CRLFCRLF over the (at most two) ring pieces, from where the last search ended.
    const p1 = c.peekPtr();
    const n1 = c.contiguousReadable();
    const p2 = c.wrapPtr();
    const limit = min(avail, MAX_HEAD);
    let i = this.scanned > 3 ? this.scanned - 3 : 0;
    let end: u32 = 0;
    for (; i + 3 < limit; i++) {
      if (byteAt(p1, n1, p2, i) == 13 && byteAt(p1, n1, p2, i + 1) == 10 &&
          byteAt(p1, n1, p2, i + 2) == 13 && byteAt(p1, n1, p2, i + 3) == 10) { end = i + 4; break; }
    }
    if (end == 0) {
      this.scanned = limit;
      if (avail >= MAX_HEAD) { this.reject(c, this.server.r431); }
      return false;
    }
    this.scanned = 0;
    this.lastActive = this.server.now;
    // The head in one piece: in place if it does not wrap, else copied to scratch.
    let hp = p1;
    if (end > n1) {
      hp = this.server.scratch;
      c.peek(hp, 0, end);
    }
    this.requests++;
    this.server.requests++;
    const ok = this.handle(hp, end);
    c.consume(end);
    return ok;
  }

  /** Parses and answers the head at [p, p+n). */
  handle(p: usize, n: u32): bool {
    const s = this.server;
    // Request line: METHOD SP target SP HTTP/1.x CRLF (leading empty lines are allowed).
    let i: u32 = 0;
    while (i + 1 < n && load<u8>(p + i) == 13 && load<u8>(p + i + 1) == 10) i += 2;
    const ms = i;
    while (i < n && load<u8>(p + i) != 32 && load<u8>(p + i) != 13) i++;
    const me = i;
    if (i >= n || load<u8>(p + i) != 32 || me == ms) { this.reject(this.conn, s.r400); return false; }
    i++;
    const ts = i;
    while (i < n && load<u8>(p + i) != 32 && load<u8>(p + i) != 13) i++;
    const te = i;
    if (i >= n || load<u8>(p + i) != 32 || te == ts) { this.reject(this.conn, s.r400); return false; }
    i++;
    const vs = i;
    while (i < n && load<u8>(p + i) != 13) i++;
    const ve = i;
    if (ve - vs != 8 || (load<u64>(p + vs) & 0x00ff_ffff_ffff_ffff) != 0x002e_312f_5054_5448) {
      // "HTTP/1." is required; HTTP/2 and friends get 505.
      this.reject(this.conn, ve - vs == 8 && load<u32>(p + vs) == 0x50545448 ? s.r505 : s.r400);
      return false;
    }
    const minor = load<u8>(p + vs + 7);
    if (minor != 48 && minor != 49) { this.reject(this.conn, s.r505); return false; }
    let keepAlive = minor == 49;
    const http10 = minor == 48;
    i += 2; // CRLF

    // Headers.
    let contentLength: i64 = 0;
    let chunked = false;
    while (i + 1 < n) {
      if (load<u8>(p + i) == 13) break; // the empty line
      const ns = i;
      while (i < n && load<u8>(p + i) != 58 && load<u8>(p + i) != 13) i++;
      if (i >= n || load<u8>(p + i) != 58) { this.reject(this.conn, s.r400); return false; }
      const ne = i;
      i++;
      while (i < n && (load<u8>(p + i) == 32 || load<u8>(p + i) == 9)) i++;
      const vs2 = i;
      while (i < n && load<u8>(p + i) != 13) i++;
      let ve2 = i;
      while (ve2 > vs2 && (load<u8>(p + ve2 - 1) == 32 || load<u8>(p + ve2 - 1) == 9)) ve2--;
      i += 2;
      const nlen = ne - ns;
      if (nlen == 10 && eqNoCase(p + ns, nlen, "connection")) {
        if (hasToken(p + vs2, ve2 - vs2, "close")) keepAlive = false;
        else if (hasToken(p + vs2, ve2 - vs2, "keep-alive")) keepAlive = true;
      } else if (nlen == 14 && eqNoCase(p + ns, nlen, "content-length")) {
        const v = parseDecimal(p + vs2, ve2 - vs2);
        if (v < 0 || (contentLength != 0 && v != contentLength)) { this.reject(this.conn, s.r400); return false; }
        contentLength = v;
      } else if (nlen == 17 && eqNoCase(p + ns, nlen, "transfer-encoding")) {
        chunked = true;
      }
    }
    if (chunked) { this.reject(this.conn, s.r501); return false; }
    this.skip = <u64>contentLength;

    // Method and route.
    const mlen = me - ms;
    const isGet = mlen == 3 && load<u16>(p + ms) == 0x4547 && load<u8>(p + ms + 2) == 0x54;   // "GET"
    const isHead = mlen == 4 && load<u32>(p + ms) == 0x44414548;                              // "HEAD"
    let resp: Response;
    if (!isGet && !isHead) {
      resp = s.r405;
    } else {
      // Path without the query string.
      let pe = ts;
      while (pe < te && load<u8>(p + pe) != 63) pe++;
      const r = s.findRoute(p + ts, pe - ts);
      resp = r !== null ? r.response : s.r404;
    }
    this.respond(resp, isHead, keepAlive, http10);
    return true;
  }

  respond(resp: Response, headOnly: bool, keepAlive: bool, http10: bool): void {
    const variant = !keepAlive ? CONN_CLOSE : (http10 ? CONN_KEEP : CONN_DEFAULT);
    this.head = resp.heads[variant];
    const t = resp.text;
    this.bodySrc = t !== null ? changetype<usize>(t) : 0;
    this.headOff = 0;
    this.bodyOff = 0;
    this.bodyLeft = headOnly ? 0 : resp.bodyLen;
    this.closeAfter = !keepAlive;
    this.server.countStatus(resp);
  }

  /** Answers with an error response and closes after it (the stream is not parseable). */
  reject(c: TcpConnection, resp: Response): void {
    this.respond(resp, false, false, false);
    this.skip = 0;
    this.pump(c);
  }
}

/** Reads byte `i` of the readable data given as two pieces. */
// @ts-ignore: decorator
@inline function byteAt(p1: usize, n1: u32, p2: usize, i: u32): u8 {
  return i < n1 ? load<u8>(p1 + i) : load<u8>(p2 + (i - n1));
}

// ---------------------------------------------------------------------------------------
// The stack
// ---------------------------------------------------------------------------------------

class StackTx extends FrameTx {
  stack: Stack;
  constructor(stack: Stack) { super(); this.stack = stack; }
  txBuffer(): usize { return this.stack.txBuffer(); }
  frameRoom(): u32 { return this.stack.tx.slotSize; }
  txSend(len: u32): void { this.stack.send(len); }
}

/** Next hop of connections the server did not get a frame from yet (not used by a pure server). */
class HostResolver extends NextHopResolver {
  buf: Uint8Array = new Uint8Array(16);
  resolve(t: TcpTuple): u64 {
    const a = t.v6 ? this.buf : this.buf.subarray(0, 4);
    t.writeRemote(a.dataStart);
    const mac = nextHopMac(a);
    return mac === null || mac.length != 6 ? 0 : loadMac(mac.dataStart);
  }
}

class Acceptor extends TcpListenHandler {
  server: HttpServer;
  constructor(server: HttpServer) { super(); this.server = server; }
  onAccept(l: TcpListener, c: TcpConnection): TcpHandler | null {
    return this.server.addSession(c);
  }
}

class HttpServer extends Stack {
  tcpConfig: TcpConfig = new TcpConfig();
  rootSize: u32 = 13;
  contentType: string = "application/octet-stream";
  extraRoutes: Array<string> = new Array<string>();
  extraSizes: Array<u32> = new Array<u32>();
  idleTimeout: u64 = 60 * SEC;

  endpoint: TcpEndpoint | null = null;
  netif: TcpNetIf | null = null;
  routes: Array<Route> = new Array<Route>();
  sessions: Array<Session> = new Array<Session>();
  /**
   * The first BODY_BLOCK bytes of every generated body. Bodies of any size are sent from
   * it piece by piece (bodyPiece), so memory does not grow with the configured sizes.
   */
  body: usize = 0;
  /** Length of the piece bodyPiece() returned last. */
  pieceLen: u32 = 0;
  scratch: usize = heap.alloc(MAX_HEAD);
  now: u64 = 0;
  nextSweep: u64 = 0;

  r400: Response = Response.text("400 Bad Request", "Bad Request\r\n");
  r404: Response = Response.text("404 Not Found", "Not Found\r\n");
  r405: Response = Response.text("405 Method Not Allowed", "Method Not Allowed\r\n", "Allow: GET, HEAD\r\n");
  r431: Response = Response.text("431 Request Header Fields Too Large", "Request Header Fields Too Large\r\n");
  r501: Response = Response.text("501 Not Implemented", "Not Implemented\r\n");
  r505: Response = Response.text("505 HTTP Version Not Supported", "HTTP Version Not Supported\r\n");

  requests: u64 = 0;
  responses: u64 = 0;
  notFound: u64 = 0;
  errors: u64 = 0;
  accepted: u64 = 0;
  timeouts: u64 = 0;

  constructor() {
    super(1024, 1024, 2048);
    this.tcpConfig.rcvBuf = 16384;
    this.tcpConfig.sndBuf = 65536;
    this.tcpConfig.bufferBudget = 48 << 20;
  }

  configure(key: string, value: string): string | null {
    const c = this.tcpConfig;
    if (key == "size") {
      const n = parseSize(value);
      if (n < 0) return "size must be a byte count from 0 to 1073741824, got '" + value + "'";
      this.rootSize = <u32>n;
      return null;
    }
    if (key == "route") {
      const colon = value.lastIndexOf(":");
      if (!value.startsWith("/") || colon <= 0) return "route must look like /path:SIZE, got '" + value + "'";
      const n = parseSize(value.substring(colon + 1));
      if (n < 0) return "route size must be a byte count from 0 to 1073741824, got '" + value + "'";
      const path = value.substring(0, colon);
      if (path.indexOf(" ") >= 0 || path.indexOf("?") >= 0) return "route path must not contain spaces or '?'";
      this.extraRoutes.push(path);
      this.extraSizes.push(<u32>n);
      return null;
    }
    if (key == "content-type") { this.contentType = value; return null; }
    if (key == "idle-timeout") {
      const n = parseSize(value);
      if (n < 0 || n > 86400) return "idle-timeout must be 0..86400 seconds";
      this.idleTimeout = <u64>n * SEC;
      return null;
    }
    if (key == "rcvbuf" || key == "sndbuf") {
      const n = parseSize(value);
      if (n < 1024 || n > (1 << 26) || (n & (n - 1)) != 0) return key + " must be a power of two from 1024 to 67108864";
      if (key == "rcvbuf") c.rcvBuf = <u32>n; else c.sndBuf = <u32>n;
      return null;
    }
    if (key == "max-conns" || key == "syn-backlog") {
      const n = parseSize(value);
      if (n < 1 || n > 1 << 20) return key + " must be 1..1048576";
      if (key == "max-conns") c.maxConnections = <i32>n; else c.synBacklog = <i32>n;
      return null;
    }
    if (key == "buffer-budget") {
      const n = parseSize(value);
      if (n < 65536) return "buffer-budget must be at least 65536 bytes";
      c.bufferBudget = <u64>n;
      return null;
    }
    if (key == "cc") {
      const f = ccFactoryByName(value);
      if (f === null) return "cc must be newreno, cubic or fixed";
      c.cc = f;
      return null;
    }
    return "unknown config key '" + key + "' (http-server knows size, route, content-type, idle-timeout, rcvbuf, sndbuf, max-conns, syn-backlog, buffer-budget, cc)";
  }

  start(now: u64): string | null {
    this.now = now;
    const info = this.linkInfo;
    if (info.mac.length != 6) return "link has no Ethernet address";
    // A segment must fit one TX slot: the MSS follows the smaller of MTU and slot size.
    this.tcpConfig.mtu = min(info.mtu, this.tx.slotSize - 14);

    // Routes and the shared body block (bytes cycle through a printable pattern).
    this.body = fillBody(BODY_BLOCK);
    this.routes.push(new Route("/", new Response("200 OK", this.contentType, this.rootSize)));
    for (let i = 0; i < this.extraRoutes.length; i++) {
      this.routes.push(new Route(this.extraRoutes[i], new Response("200 OK", this.contentType, this.extraSizes[i])));
    }

    const secret = new Uint8Array(32);
    randomFill(secret);
    const netif = new TcpNetIf(loadMac(info.mac.dataStart), new StackTx(this));
    netif.resolver = new HostResolver();
    const ep = new TcpEndpoint(netif, this.tcpConfig, secret);
    netif.endpoint = ep;
    this.netif = netif;
    this.endpoint = ep;

    const acceptor = new Acceptor(this);
    const ports = new Array<u16>();
    for (let i = 0; i < this.owned.length; i++) {
      const t = this.owned[i];
      if (t.protocol != Protocol.TCP) { logWarn("http-server owns a UDP tuple; its frames are dropped"); continue; }
      if (ports.includes(t.port)) continue;
      ports.push(t.port);
      ep.listen(t.port, 1024, acceptor);
    }
    if (ports.length == 0) return "http-server needs at least one TCP tuple (e.g. --tuple tcp:80)";
    let msg = "http-server on " + info.name + " port(s)";
    for (let i = 0; i < ports.length; i++) msg += " " + ports[i].toString();
    msg += ", routes:";
    for (let i = 0; i < this.routes.length; i++) {
      msg += " " + String.UTF8.decode(this.routes[i].path) + "=" + this.routes[i].response.bodyLen.toString();
    }
    logInfo(msg);
    return null;
  }

  onFrame(ptr: usize, len: u32, now: u64): void {
    this.now = now;
    this.netif!.receive(ptr, len, now);
  }

  onPoll(now: u64): void {
    this.now = now;
    const ep = this.endpoint!;
    ep.poll(now);
    if (this.idleTimeout != 0 && now >= this.nextSweep) {
      this.sweep(now);
      this.nextSweep = now + SEC;
      ep.poll(now);
    }
  }

  nextDeadline(): u64 {
    const ep = this.endpoint;
    if (ep === null) return 0;
    let d = ep.nextDeadline(this.now);
    if (this.idleTimeout != 0 && this.sessions.length > 0 && (d == 0 || this.nextSweep < d)) d = this.nextSweep;
    return d;
  }

  onShutdown(): void {
    const ep = this.endpoint;
    if (ep === null) return;
    ep.shutdown(this.now);
    logInfo("http-server: requests=" + this.requests.toString() + " responses=" + this.responses.toString() +
      " not_found=" + this.notFound.toString() + " errors=" + this.errors.toString() +
      " accepted=" + this.accepted.toString() + " timeouts=" + this.timeouts.toString() + " | tcp " + ep.stats.toString());
  }

  /**
   * Closes keep-alive connections without a completed request for idle-timeout, and
   * aborts ones whose client stopped reading a response for that long (slow reader).
   */
  sweep(now: u64): void {
    const s = this.sessions;
    for (let i = s.length - 1; i >= 0; i--) {
      if (i >= s.length) continue;
      const x = s[i];
      if (now - x.lastActive <= this.idleTimeout) continue;
      if (x.head !== null) {
        this.timeouts++;
        x.abortSession(x.conn);
      } else if (!x.closing) {
        this.timeouts++;
        x.closing = true;
        x.conn.close();
      }
    }
  }

  addSession(c: TcpConnection): Session {
    const s = new Session(this, c, this.now);
    s.index = this.sessions.length;
    this.sessions.push(s);
    this.accepted++;
    return s;
  }

  removeSession(s: Session): void {
    const i = s.index;
    if (i < 0) return;
    const last = this.sessions.pop();
    if (last !== s) {
      this.sessions[i] = last;
      last.index = i;
    }
    s.index = -1;
  }

  /**
   * Where body byte `off` (and the pieceLen bytes after it) can be copied from: the block
   * itself below its end, else the same phase of the a-z cycle inside the block.
   */
  bodyPiece(off: u32): usize {
    let at = off;
    if (off >= BODY_BLOCK) at = 13 + (off - 13) % 26;
    this.pieceLen = BODY_BLOCK - at;
    return this.body + at;
  }

  findRoute(p: usize, n: u32): Route | null {
    const rs = this.routes;
    for (let i = 0; i < rs.length; i++) {
      const r = unchecked(rs[i]);
      if (<u32>r.path.byteLength == n && memory.compare(changetype<usize>(r.path), p, n) == 0) return r;
    }
    return null;
  }

  countStatus(r: Response): void {
    if (r === this.r404) this.notFound++;
    else if (r === this.r400 || r === this.r405 || r === this.r431 || r === this.r501 || r === this.r505) this.errors++;
  }
}

/** The body block: "Hello, msh!\r\n" then a-z repeating, filled by doubling copies. */
function fillBody(n: u32): usize {
  const b = heap.alloc(n);
  const hello = "Hello, msh!\r\n";
  const first = min(n, 13 + 26 * 16);
  for (let i: u32 = 0; i < first; i++) {
    store<u8>(b + i, i < 13 ? <u8>hello.charCodeAt(<i32>i) : <u8>(97 + (i - 13) % 26));
  }
  // Bytes from 13 on have period 26 and (filled - 13) stays a multiple of it.
  let filled = first;
  while (filled < n) {
    const k = min(filled - 13, n - filled);
    memory.copy(b + filled, b + 13, k);
    filled += k;
  }
  return b;
}

/** A byte count: digits with an optional k/m/g suffix (1024-based); -1 if invalid. */
function parseSize(s: string): i64 {
  if (s.length == 0) return -1;
  let mult: i64 = 1;
  let digits = s;
  const last = s.charCodeAt(s.length - 1) | 0x20;
  if (last == 107) mult = 1 << 10;        // k
  else if (last == 109) mult = 1 << 20;   // m
  else if (last == 103) mult = 1 << 30;   // g
  if (mult != 1) digits = s.substring(0, s.length - 1);
  if (digits.length == 0 || digits.length > 10) return -1;
  let v: i64 = 0;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + <i64>(c - 48);
  }
  v *= mult;
  return v <= <i64>MAX_BODY_SIZE ? v : -1;
}

registerStack(new HttpServer());
