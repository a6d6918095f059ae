/**
 * Proving cluster membership when two nodes connect: a mutual
 * challenge-response over HMAC-SHA256 with the cluster secret, so the
 * secret never crosses the wire and a recorded handshake cannot be replayed
 * (each side's proof covers the other side's fresh nonce). Pure apart from
 * the random nonce.
 *
 *   listener -> dialer   Hello   { cluster, node, nonce: nL }
 *   dialer   -> listener Hello   { cluster, node, nonce: nD, proof: mac("dial", D, L, nL, nD) }
 *   listener -> dialer   Welcome { proof: mac("accept", L, D, nD, nL) }      (or Refuse { reason })
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const HANDSHAKE_VERSION = 1;
/** Bytes of each side's nonce. */
const NONCE_BYTES = 16;
/** Longest node name accepted in a handshake. */
export const MAX_NODE_NAME_LENGTH = 128;

export interface Hello {
  readonly version: number;
  readonly cluster: string;
  readonly node: string;
  /** Hex. */
  readonly nonce: string;
  /** Hex; only the dialer's Hello carries one. */
  readonly proof?: string;
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

function mac(secret: string, role: 'dial' | 'accept', cluster: string, self: string, other: string, otherNonce: string, selfNonce: string): string {
  return createHmac('sha256', secret).update(JSON.stringify([HANDSHAKE_VERSION, role, cluster, self, other, otherNonce, selfNonce])).digest('hex');
}

/** The dialer's proof: it knows the secret and answers the listener's nonce. */
export function dialProof(secret: string, cluster: string, dialer: string, listener: string, listenerNonce: string, dialerNonce: string): string {
  return mac(secret, 'dial', cluster, dialer, listener, listenerNonce, dialerNonce);
}

/** The listener's proof back: it knows the secret too (the dialer is not talking to an impostor). */
export function acceptProof(secret: string, cluster: string, listener: string, dialer: string, dialerNonce: string, listenerNonce: string): string {
  return mac(secret, 'accept', cluster, listener, dialer, dialerNonce, listenerNonce);
}

export function proofMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected, 'utf8'), Buffer.from(given, 'utf8'));
}

/** A Hello's fields checked, or the reason it is refused. */
export function checkHello(body: unknown, cluster: string, needsProof: boolean): Hello | string {
  if (body === null || typeof body !== 'object') return 'the hello is not an object';
  const h = body as Record<string, unknown>;
  if (h['version'] !== HANDSHAKE_VERSION) return `handshake version ${String(h['version'])}, expected ${HANDSHAKE_VERSION}`;
  if (h['cluster'] !== cluster) return `cluster ${JSON.stringify(h['cluster'])} is not ${JSON.stringify(cluster)}`;
  const node = h['node'];
  if (typeof node !== 'string' || node.length === 0 || node.length > MAX_NODE_NAME_LENGTH) return 'the hello names no valid node';
  if (typeof h['nonce'] !== 'string' || !/^[0-9a-f]{32}$/.test(h['nonce'])) return 'the hello carries no valid nonce';
  if (needsProof && typeof h['proof'] !== 'string') return 'the hello carries no proof of the cluster secret';
  return h as unknown as Hello;
}
