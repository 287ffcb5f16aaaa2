/**
 * QoS marking. Cisco's design guide says phone-services HTTP "must be marked
 * by the application"; Node can do it from 24 on (`socket.setTypeOfService`).
 * The mark is set once the TCP connection exists (earlier, the kernel has no
 * socket to mark) and before the first TLS byte, so the handshake is marked too.
 */
import { Socket, connect as connectTcp } from 'node:net';

const NAMED: Record<string, number> = {
  CS0: 0, CS1: 8, CS2: 16, CS3: 24, CS4: 32, CS5: 40, CS6: 48, CS7: 56,
  AF11: 10, AF12: 12, AF13: 14, AF21: 18, AF22: 20, AF23: 22,
  AF31: 26, AF32: 28, AF33: 30, AF41: 34, AF42: 36, AF43: 38,
  EF: 46, VA: 44,
};

/** The 6-bit code point for a configured name or number (validated by the config schema). */
export function dscpCodePoint(value: string | number): number {
  if (typeof value === 'number') return value;
  return NAMED[value.toUpperCase()] ?? Number(value);
}

type Markable = Socket & { setTypeOfService?: (tos: number) => void };

/** Whether this runtime can mark sockets at all. */
export const dscpSupported = typeof (Socket.prototype as Markable).setTypeOfService === 'function';

/** The code point to mark with: undefined where none is configured or this runtime cannot mark. */
export function dscpToMark(value: string | number | undefined): number | undefined {
  return value !== undefined && dscpSupported ? dscpCodePoint(value) : undefined;
}

/** A TCP connection marked as soon as it connects, before the TLS ClientHello leaves. */
export function connectMarked(host: string, port: number, codePoint: number): Socket {
  const socket = connectTcp({ host, port });
  socket.once('connect', () => markSocket(socket, codePoint));
  return socket;
}

/** Marks a connected socket; a failure (an unusual socket type) is ignored: marking is best effort. */
export function markSocket(socket: Socket, codePoint: number): void {
  try {
    // The TOS byte carries DSCP in its upper six bits.
    (socket as Markable).setTypeOfService?.(codePoint << 2);
  } catch {
    // Unsupported on this socket; traffic flows unmarked.
  }
}
