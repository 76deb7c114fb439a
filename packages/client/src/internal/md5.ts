/**
 * MD5 and HMAC-MD5 (RFC 1321, RFC 2104), only for SASL CRAM-MD5, from
 * @noble/hashes: audited, platform-free (the client has no node:crypto), and
 * Web Crypto has no MD5.
 */
import { hmac } from "@noble/hashes/hmac.js"
import { md5 as nobleMd5 } from "@noble/hashes/legacy.js"
import { bytesToHex } from "@noble/hashes/utils.js"

/** @internal */
export const md5 = (message: Uint8Array): Uint8Array => nobleMd5(message)

/** @internal */
export const hmacMd5 = (key: Uint8Array, message: Uint8Array): Uint8Array => hmac(nobleMd5, key, message)

/** @internal */
export const toHex = (bytes: Uint8Array): string => bytesToHex(bytes)
