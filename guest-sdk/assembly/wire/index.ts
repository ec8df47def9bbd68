// Wire formats of the msh guest SDK: one file per protocol, each a checked view over
// linear memory plus a plain Repr with parse/emit (see view.ts and guest-sdk/README.md).
export * from "./view";
export * from "./checksum";
export * from "./ip";
export * from "./ethernet";
export * from "./arp";
export * from "./ipv4";
export * from "./ipv6";
export * from "./icmpv4";
export * from "./icmpv6";
export * from "./udp";
export * from "./tcp";
export * from "./echo";
