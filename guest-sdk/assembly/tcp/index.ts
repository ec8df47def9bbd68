// TCP for msh guest stacks (RFC 9293 and friends). See README.md in this folder.
export * from "./seq";
export * from "./tuple";
export * from "./segment";
export * from "./sink";
export * from "./config";
export * from "./stats";
export * from "./cc";
export * from "./cc-cubic";
export * from "./cc-fixed";
export * from "./rtt";
export * from "./buffers";
export * from "./connection";
export * from "./listener";
export * from "./endpoint";
export * from "./netif";
