// A passive open on a local port (optionally one local address): half-open connections
// are counted against its SYN backlog, finished handshakes wait in a bounded accept queue
// (polling) or go straight to the handler's onAccept (callbacks).

import { TcpConnection, TcpHandler, TcpState } from "./connection";

export class TcpListenHandler {
  /**
   * A handshake completed. Return the handler for the new connection (null: poll it).
   * To refuse it, call c.abort().
   */
  onAccept(l: TcpListener, c: TcpConnection): TcpHandler | null { return null; }
}

export class TcpListener {
  port: u16;
  /** Bound to every local address, or only to (v6, addrHi, addrLo). */
  anyAddr: bool = true;
  v6: bool = false;
  addrHi: u64 = 0;
  addrLo: u64 = 0;
  /** Most connections waiting for accept(). */
  backlog: i32;
  /** Most half-open connections before SYN cookies (or drops). */
  synBacklog: i32;
  synPending: i32 = 0;
  queue: Array<TcpConnection> = new Array<TcpConnection>();
  handler: TcpListenHandler | null;
  open: bool = true;

  constructor(port: u16, backlog: i32, synBacklog: i32, handler: TcpListenHandler | null) {
    this.port = port;
    this.backlog = backlog > 0 ? backlog : 1;
    this.synBacklog = synBacklog > 0 ? synBacklog : 1;
    this.handler = handler;
  }

  /** Restricts the listener to one IPv4 address (4 network-order bytes at `ptr`). */
  bindV4(ptr: usize): TcpListener {
    this.anyAddr = false; this.v6 = false; this.addrHi = 0; this.addrLo = <u64>load<u32>(ptr);
    return this;
  }
  /** Restricts the listener to one IPv6 address (16 network-order bytes at `ptr`). */
  bindV6(ptr: usize): TcpListener {
    this.anyAddr = false; this.v6 = true; this.addrHi = load<u64>(ptr); this.addrLo = load<u64>(ptr, 8);
    return this;
  }

  /** The next established connection (polling mode), or null. */
  accept(): TcpConnection | null {
    while (this.queue.length > 0) {
      const c = this.queue.shift();
      c.listener = null;
      if (c.state != TcpState.CLOSED) return c; // skip connections that died in the queue
    }
    return null;
  }

  /** Connections waiting in the accept queue. */
  @inline get pending(): i32 { return this.queue.length; }
}
