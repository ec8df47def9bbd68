// Test stack: for every received IPv4/UDP frame it transmits one honest reply (its own
// tuple) and one forgery per way a stack could try to spoof. The host must send the
// honest one and drop and count every forgery.
import { Stack, registerStack } from "../../../guest-sdk/assembly/index";
export * from "../../../guest-sdk/assembly/exports";

const ETH = 14;

class Spoofer extends Stack {
  configure(key: string, value: string): string | null { return null; }

  /** Copies the received frame into a new TX frame turned into a reply; returns its buffer. */
  reply(ptr: usize, len: u32): usize {
    const b = this.txBuffer();
    if (b == 0) return 0;
    memory.copy(b, ptr, len);
    // swap MACs
    memory.copy(b, ptr + 6, 6);
    memory.copy(b + 6, ptr, 6);
    // swap IPv4 addresses and UDP ports
    store<u32>(b + ETH + 12, load<u32>(ptr + ETH + 16));
    store<u32>(b + ETH + 16, load<u32>(ptr + ETH + 12));
    const ihl = (<u32>load<u8>(ptr + ETH) & 0xf) * 4;
    store<u16>(b + ETH + ihl, load<u16>(ptr + ETH + ihl + 2));
    store<u16>(b + ETH + ihl + 2, load<u16>(ptr + ETH + ihl));
    return b;
  }

  onFrame(ptr: usize, len: u32, now: u64): void {
    if (len < 42 || load<u16>(ptr + 12) != 0x0008) return; // IPv4 only
    const ihl = (<u32>load<u8>(ptr + ETH) & 0xf) * 4;
    let b: usize;
    // 1. honest reply
    if ((b = this.reply(ptr, len)) != 0) this.send(len);
    // 2. forged source MAC
    if ((b = this.reply(ptr, len)) != 0) { store<u8>(b + 11, load<u8>(b + 11) ^ 0xff); this.send(len); }
    // 3. forged source address
    if ((b = this.reply(ptr, len)) != 0) { store<u8>(b + ETH + 15, load<u8>(b + ETH + 15) ^ 0x55); this.send(len); }
    // 4. forged source port
    if ((b = this.reply(ptr, len)) != 0) { store<u16>(b + ETH + ihl, load<u16>(b + ETH + ihl) ^ 0x0101); this.send(len); }
    // 5. other protocol on the owned port (TCP instead of UDP)
    if ((b = this.reply(ptr, len)) != 0) { store<u8>(b + ETH + 9, 6); this.send(len); }
    // 6. an ARP frame (the kernel answers ARP; stacks may not)
    if ((b = this.reply(ptr, len)) != 0) { store<u16>(b + 12, 0x0608); this.send(42); }
    // 7. IP total length larger than the frame
    if ((b = this.reply(ptr, len)) != 0) { store<u16>(b + ETH + 2, 0xff05); this.send(len); }
  }
}

registerStack(new Spoofer());
