// Canonical bytes (§3) back to text for `unmask`: an IPv4-mapped address as its
// dotted quad, any other IPv6 address in RFC 5952 form; a device id as UTF-8.
import type { PiiField } from "../transform/mask.ts";

function ipv6Text(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

export function renderIp(bytes: Buffer): string {
  if (bytes.length !== 16) throw new Error("an address is 16 canonical bytes");
  const mapped = bytes.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]));
  return mapped ? Array.from(bytes.subarray(12)).join(".") : ipv6Text(bytes);
}

export function renderValue(field: PiiField, bytes: Buffer): string {
  return field === "ip" ? renderIp(bytes) : bytes.toString("utf8");
}
