// udp-echo: echoes every UDP datagram sent to a tuple it owns (RFC 862 style), IPv4 and
// IPv6. The reply is the received frame edited in place and handed to the TX ring without
// a copy (buffer swap). Config: none.
import { Stack, registerStack, logInfo, logWarn, Protocol } from "../../guest-sdk/assembly/index";
import { udpEchoInPlace } from "../../guest-sdk/assembly/wire/echo";
export * from "../../guest-sdk/assembly/exports";

class UdpEcho extends Stack {
  echoed: u64 = 0;
  dropped: u64 = 0;

  start(now: u64): string | null {
    let udp = 0;
    for (let i = 0; i < this.owned.length; i++) {
      if (this.owned[i].protocol == Protocol.UDP) udp++;
      else logWarn("udp-echo owns a TCP tuple; TCP frames to it are dropped");
    }
    logInfo("udp-echo on " + this.linkInfo.name + ", " + udp.toString() + " UDP tuple(s)");
    return null;
  }

  onFrame(ptr: usize, len: u32, now: u64): void {
    const n = udpEchoInPlace(ptr, len);
    if (n != 0 && this.reflect(n)) this.echoed++;
    else this.dropped++;
  }

  onShutdown(): void {
    logInfo("udp-echo: echoed " + this.echoed.toString() + ", dropped " + this.dropped.toString());
  }
}

registerStack(new UdpEcho());
