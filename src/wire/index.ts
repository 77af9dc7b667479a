// Host-side packet wire formats: checked views, emitters and buildPacket().

export * from './ah.js';
export * from './build.js';
export * from './checksum.js';
export * from './esp.js';
export { addressBytes, addressWords } from './field.js';
export * from './icmp.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './sctp.js';
export * from './tcp.js';
export * from './udp.js';
