// The plain-TypeScript build of larval's outbound path, for benchmarks only: the
// same work as the engine (parse, flow key, hash, flow cache with generation
// checks, classifier on a miss, SA group with the best SA kept by R6) over typed
// arrays, written the way a careful JS programmer would, without WebAssembly.
// The classifier behind its cache is the reference linear scan (src/reference/linear-spd.ts).
// It reads packets where they are; the engine pays for copying them into its memory.

import '../src/engine/node-platform.js';
import { ReferenceSpd, type ReferenceFlow } from '../src/reference/linear-spd.js';
import type { Direction, PolicySpec, SaSpec } from '../src/engine/types.js';
import { formatAddress, parseAddress, type Family } from '../src/common/addr.js';

const CACHE_WINDOW = 8;
const SLOT_WORDS = 16; // key 10 words, tag, policy id, generation, group + 1, group generation, pad
const KEY_WORDS = 10;
const TAG = 10;
const POLICY = 11;
const GEN = 12;
const GROUP = 13;
const GROUP_GEN = 14;

export const V_BYPASS = 0;
export const V_PROTECT = 1;
export const V_DISCARD = 2;
export const V_DROP = 3;
export const V_MALFORMED = 4;
export const V_QUEUED = 5;

function hashKey(k: Uint32Array): number {
  let h = 0x9747b28c;
  for (let i = 0; i < KEY_WORDS; i++) {
    let w = Math.imul(k[i], 0xcc9e2d51);
    w = (w << 15) | (w >>> 17);
    h ^= Math.imul(w, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface TsPolicy {
  id: number;
  action: number; // V_BYPASS, V_DISCARD, or V_PROTECT
  transport: boolean;
  group: number; // tunnel templates: group index, -1 none
  tmplProto: number;
  reqid: number;
}

interface TsSa {
  id: number;
  spi: number;
  addTime: number;
  dying: boolean;
  // R13 accounting, as the engine does per protected packet.
  packets: number;
  bytes: number;
  seq: number;
  softPackets: number;
  hardPackets: number;
  softBytes: number;
  hardBytes: number;
  firstUse: number;
}

export class TsOutboundPath {
  private readonly cache: Uint32Array;
  private readonly mask: number;
  private readonly key = new Uint32Array(KEY_WORDS);
  private readonly ref = new ReferenceSpd();
  private readonly policies: TsPolicy[] = [];
  private readonly policyGen: Uint32Array;
  private generation = 1;
  // SA groups: open addressing over (family, proto, mode, reqid, src, dst) words.
  private readonly groupKeys: Uint32Array;
  private readonly groupBest: Int32Array;
  private readonly groupGen: Uint32Array;
  private groupEpoch = 1;
  private readonly groupMask: number;
  private readonly groupMembers: TsSa[][] = [];
  private readonly sas: TsSa[] = [];
  private readonly gkey = new Uint32Array(12);
  readonly out: Uint32Array;
  // Larval SAs (R7, R8), as plain TS would hold them: resolution key -> larval id,
  // expiry in creation order, and an ACQUIRE object for each new one.
  private readonly larval = new Map<string, number>();
  private larvalOrder: { key: string; expires: number }[] = [];
  private larvalHead = 0;
  private larvalSeq = 0;
  acquireTimeout = 30_000;
  readonly events: object[] = [];

  constructor(options: { cacheSlots: number; maxGroups: number; batch: number; maxPolicyId: number }) {
    this.policyGen = new Uint32Array(options.maxPolicyId + 1);
    this.cache = new Uint32Array(options.cacheSlots * SLOT_WORDS);
    this.mask = options.cacheSlots - 1;
    const g = 2 ** Math.ceil(Math.log2(options.maxGroups * 2));
    this.groupKeys = new Uint32Array(g * 12);
    this.groupBest = new Int32Array(g).fill(-1);
    this.groupGen = new Uint32Array(g);
    this.groupMask = g - 1;
    this.out = new Uint32Array(options.batch * 4);
  }

  addPolicy(spec: PolicySpec, id: number): void {
    this.ref.add(spec, id);
    const t = spec.template;
    const p: TsPolicy = {
      id,
      action: spec.action === 'protect' ? V_PROTECT : spec.action === 'discard' ? V_DISCARD : V_BYPASS,
      transport: t?.mode === 'transport',
      group: -1,
      tmplProto: t?.proto === 'ah' ? 51 : 50,
      reqid: t?.reqid ?? 0,
    };
    if (t && t.mode === 'tunnel') {
      const src = parseAddress(t.src, 'src');
      const dst = parseAddress(t.dst, 'dst');
      p.group = this.group(src.family, p.tmplProto, 1, p.reqid, src.words, 0, dst.words, 0, true);
    }
    this.policies[id] = p;
    this.policyGen[id] = ++this.generation;
    this.generation++; // every change invalidates, as the engine's add epochs would
  }

  addSA(sa: SaSpec, id: number, now: number): void {
    const src = parseAddress(sa.src, 'src');
    const dst = parseAddress(sa.dst, 'dst');
    const rec: TsSa = {
      id, spi: sa.spi >>> 0, addTime: now, dying: sa.state === 'dying',
      packets: 0, bytes: 0, seq: 0, softPackets: 0, hardPackets: 0, softBytes: 0, hardBytes: 0, firstUse: -1,
    };
    this.sas.push(rec);
    const proto = sa.proto === 'ah' ? 51 : 50;
    const mode = sa.mode === 'tunnel' ? 1 : 0;
    const join = (reqid: number) => {
      const g = this.group(src.family, proto, mode, reqid, src.words, 0, dst.words, 0, true);
      this.groupMembers[g].push(rec);
      const best = this.groupBest[g];
      if (best < 0 || this.better(rec, this.sas[best])) this.groupBest[g] = this.sas.length - 1;
    };
    join(0);
    if (sa.reqid) join(sa.reqid);
  }

  private better(a: TsSa, b: TsSa): boolean {
    if (a.dying !== b.dying) return b.dying;
    if (a.addTime !== b.addTime) return a.addTime > b.addTime;
    return a.spi > b.spi;
  }

  private group(family: number, proto: number, mode: number, reqid: number, src: ArrayLike<number>, srcAt: number, dst: ArrayLike<number>, dstAt: number, create: boolean): number {
    const k = this.gkey;
    k[0] = family | (proto << 8) | (mode << 16);
    k[1] = reqid;
    for (let i = 0; i < 4; i++) {
      k[2 + i] = src[srcAt + i];
      k[6 + i] = dst[dstAt + i];
    }
    k[10] = 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < 10; i++) h = Math.imul(h ^ k[i], 0x01000193);
    h = (h ^ (h >>> 15)) >>> 0;
    let i = h & this.groupMask;
    const keys = this.groupKeys;
    for (;;) {
      const b = i * 12;
      if (keys[b + 11] === 0) {
        if (!create) return -1;
        for (let j = 0; j < 10; j++) keys[b + j] = k[j];
        keys[b + 11] = 1;
        this.groupMembers[i] = [];
        this.groupGen[i] = ++this.groupEpoch;
        return i;
      }
      let eq = true;
      for (let j = 0; j < 10; j++) if (keys[b + j] !== k[j]) { eq = false; break; }
      if (eq) return i;
      i = (i + 1) & this.groupMask;
    }
  }

  // Parse the IPv4/IPv6 packet at p[a + at, at + n) into the key words: src[4] dst[4]
  // ports proto|family|kind. Returns false for packets the engine calls malformed.
  private parse(buf: Uint8Array, at: number, n: number): boolean {
    const k = this.key;
    k.fill(0);
    // Indexing is p[a + offset in the packet]: no per-packet view is allocated.
    const p = buf;
    const a = at;
    if (n < 1) return false;
    const v = p[a + 0] >> 4;
    let off: number;
    let proto: number;
    let end: number;
    let family: number;
    if (v === 4) {
      if (n < 20) return false;
      const ihl = (p[a + 0] & 15) << 2;
      const total = (p[a + 2] << 8) | p[a + 3];
      if (ihl < 20 || ihl > n || total < ihl || total > n) return false;
      k[0] = ((p[a + 12] << 24) | (p[a + 13] << 16) | (p[a + 14] << 8) | p[a + 15]) >>> 0;
      k[4] = ((p[a + 16] << 24) | (p[a + 17] << 16) | (p[a + 18] << 8) | p[a + 19]) >>> 0;
      proto = p[a + 9];
      family = 4;
      const frag = (((p[a + 6] << 8) | p[a + 7]) & 0x1fff) << 3;
      if (frag + total - ihl > 65535) return false;
      if (frag !== 0) {
        k[9] = proto | (family << 8);
        return true;
      }
      off = ihl;
      end = total;
    } else if (v === 6) {
      if (n < 40) return false;
      const plen = (p[a + 4] << 8) | p[a + 5];
      if (plen === 0 || 40 + plen > n) return false;
      for (let i = 0; i < 4; i++) {
        const s = a + 8 + 4 * i;
        const d = a + 24 + 4 * i;
        k[i] = ((p[s] << 24) | (p[s + 1] << 16) | (p[s + 2] << 8) | p[s + 3]) >>> 0;
        k[4 + i] = ((p[d] << 24) | (p[d + 1] << 16) | (p[d + 2] << 8) | p[d + 3]) >>> 0;
      }
      family = 6;
      end = 40 + plen;
      proto = p[a + 6];
      off = 40;
      for (let count = 0; ; count++) {
        if (proto === 0 || proto === 43 || proto === 60 || proto === 135 || proto === 139 || proto === 140) {
          if ((proto === 0 && count !== 0) || count === 16 || off + 8 > end) return false;
          const len = (p[a + off + 1] + 1) << 3;
          if (off + len > end) return false;
          proto = p[a + off];
          off += len;
        } else if (proto === 44) {
          if (count === 16 || off + 8 > end) return false;
          const fo = ((p[a + off + 2] << 8) | p[a + off + 3]) & 0xfff8;
          proto = p[a + off];
          off += 8;
          if (fo !== 0) {
            k[9] = proto | (family << 8);
            return fo + end - off <= 65535;
          }
        } else break;
      }
    } else return false;
    let kind = 0;
    if (proto === 6 || proto === 17 || proto === 132) {
      const need = proto === 6 ? 20 : proto === 17 ? 8 : 12;
      if (off + need > end) return false;
      if (proto === 6) {
        const dataOffset = (p[a + off + 12] >> 4) << 2;
        if (dataOffset < 20 || off + dataOffset > end) return false;
      } else if (proto === 17) {
        const len = (p[a + off + 4] << 8) | p[a + off + 5];
        if (len < 8 || off + len > end) return false;
      }
      k[8] = ((p[a + off] << 24) | (p[a + off + 1] << 16) | (p[a + off + 2] << 8) | p[a + off + 3]) >>> 0;
      kind = 1;
    } else if ((proto === 1 && family === 4) || (proto === 58 && family === 6)) {
      if (off + 4 > end) return false;
      k[8] = ((p[a + off] << 16) | p[a + off + 1]) >>> 0;
      kind = 2;
    } else if ((proto === 50 && off + 8 > end) || (proto === 51 && off + 12 > end)) {
      return false;
    }
    k[9] = proto | (family << 8) | (kind << 16);
    return true;
  }

  private refFlow(): ReferenceFlow {
    const k = this.key;
    const kind = (k[9] >>> 16) & 0xff;
    const family = (k[9] >>> 8) & 0xff;
    return {
      family: family === 6 ? 6 : 4,
      src: k.slice(0, 4),
      dst: k.slice(4, 8),
      proto: k[9] & 0xff,
      kind: kind === 1 ? 'ports' : kind === 2 ? 'icmp' : 'none',
      sport: kind === 1 ? k[8] >>> 16 : kind === 2 ? (k[8] >>> 16) & 0xff : 0,
      dport: kind === 0 ? 0 : k[8] & 0xffff,
    };
  }

  /** The cache slot (word index) that the last decide() hit or filled. */
  private slot = 0;

  private decide(dir: Direction): number {
    const k = this.key;
    const h = hashKey(k);
    const cache = this.cache;
    const tag = (h | 0x40000000) >>> 0;
    let slot = -1;
    for (let i = 0; i < CACHE_WINDOW; i++) {
      const b = ((h + i) & this.mask) * SLOT_WORDS;
      const t = cache[b + TAG];
      if (t === 0) break;
      if (t !== tag) continue;
      let eq = true;
      for (let j = 0; j < KEY_WORDS; j++) if (cache[b + j] !== k[j]) { eq = false; break; }
      if (!eq) continue;
      const pid = cache[b + POLICY] - 1;
      const gen = pid < 0 ? 1 : this.policyGen[pid];
      if (gen === cache[b + GEN]) {
        this.slot = b;
        return pid;
      }
      slot = b;
      break;
    }
    const pid = this.ref.match(dir, this.refFlow()) ?? -1;
    if (slot < 0) {
      for (let i = 0; i < CACHE_WINDOW; i++) {
        const b = ((h + i) & this.mask) * SLOT_WORDS;
        if (cache[b + TAG] === 0) { slot = b; break; }
      }
      if (slot < 0) slot = ((h + ((h >>> 24) & (CACHE_WINDOW - 1))) & this.mask) * SLOT_WORDS;
      for (let j = 0; j < KEY_WORDS; j++) cache[slot + j] = k[j];
      cache[slot + TAG] = tag;
    }
    cache[slot + POLICY] = pid + 1;
    cache[slot + GEN] = pid < 0 ? 1 : this.policyGen[pid];
    cache[slot + GROUP] = 0;
    cache[slot + GROUP_GEN] = 0;
    this.slot = slot;
    return pid;
  }

  // As in the engine: a transport template's group is remembered in the cache slot
  // with its generation (or, when none exists, the group epoch).
  private transportGroup(p: TsPolicy, family: number): number {
    const cache = this.cache;
    const b = this.slot;
    const g1 = cache[b + GROUP];
    const gen = cache[b + GROUP_GEN];
    if (gen !== 0 && (g1 !== 0 ? this.groupGen[g1 - 1] === gen : this.groupEpoch === gen)) return g1 - 1;
    const k = this.key;
    const g = this.group(family, p.tmplProto, 0, p.reqid, k, 0, k, 4, false);
    cache[b + GROUP] = g + 1;
    cache[b + GROUP_GEN] = g < 0 ? this.groupEpoch : this.groupGen[g];
    return g;
  }

  /**
   * Process packets from..from+n-1 of a capture-like buffer (packet i is
   * data[offsets[i], offsets[i] + lengths[i])): verdict, policy id, SA id and SPI
   * per packet into `out`.
   */
  outbound(data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, from: number, n: number, now = 0): void {
    this.expireLarval(now);
    const out = this.out;
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      if (!this.parse(data, offsets[from + i], lengths[from + i])) {
        out[o] = V_MALFORMED;
        out[o + 1] = out[o + 2] = out[o + 3] = 0;
        continue;
      }
      const pid = this.decide('out');
      if (pid < 0) {
        out[o] = V_BYPASS;
        out[o + 1] = out[o + 2] = out[o + 3] = 0;
        continue;
      }
      const p = this.policies[pid];
      out[o + 1] = pid;
      if (p.action !== V_PROTECT) {
        out[o] = p.action;
        out[o + 2] = out[o + 3] = 0;
        continue;
      }
      const k = this.key;
      const family = (k[9] >>> 8) & 0xff;
      const g = p.transport ? this.transportGroup(p, family) : p.group;
      const best = g < 0 ? -1 : this.groupBest[g];
      if (best < 0) {
        out[o] = V_QUEUED;
        out[o + 2] = 0;
        out[o + 3] = this.larvalFor(p, pid, family, now);
      } else {
        const sa = this.sas[best];
        // Count the packet and number it (no limits are set in the benchmarks, but
        // they are checked as the engine checks them).
        const packets = sa.packets + 1;
        const bytes = sa.bytes + lengths[from + i];
        const seq = sa.seq + 1;
        if ((sa.hardPackets && packets > sa.hardPackets) || (sa.hardBytes && bytes > sa.hardBytes) || seq > 0xffffffff) throw new Error('hard limit: not modelled');
        sa.packets = packets;
        sa.bytes = bytes;
        sa.seq = seq;
        if (sa.firstUse < 0) sa.firstUse = now;
        if ((sa.softPackets && packets >= sa.softPackets) || (sa.softBytes && bytes >= sa.softBytes)) sa.dying = true;
        out[o] = V_PROTECT;
        out[o + 2] = sa.id;
        out[o + 3] = sa.spi;
      }
    }
  }

  private larvalFor(p: TsPolicy, pid: number, family: number, now: number): number {
    const k = this.key;
    const key = p.transport
      ? `${family}|${p.tmplProto}|${p.reqid}|${k[0]}.${k[1]}.${k[2]}.${k[3]}|${k[4]}.${k[5]}.${k[6]}.${k[7]}`
      : `g${p.group}`;
    const found = this.larval.get(key);
    if (found !== undefined) return found;
    const id = ++this.larvalSeq;
    this.larval.set(key, id);
    this.larvalOrder.push({ key, expires: now + this.acquireTimeout });
    const src = formatAddress(family as Family, k.subarray(0, 4));
    const dst = formatAddress(family as Family, k.subarray(4, 8));
    this.events.push({
      type: 'acquire', seq: id, policyId: pid, time: now,
      template: { proto: p.tmplProto === 51 ? 'ah' : 'esp', mode: p.transport ? 'transport' : 'tunnel', reqid: p.reqid, family, src, dst },
      flow: { src, dst, proto: k[9] & 0xff, srcPort: k[8] >>> 16, dstPort: k[8] & 0xffff },
    });
    return id;
  }

  private expireLarval(now: number): void {
    const order = this.larvalOrder;
    while (this.larvalHead < order.length && order[this.larvalHead].expires <= now) {
      this.larval.delete(order[this.larvalHead].key);
      this.larvalHead++;
    }
    if (this.larvalHead > 4096 && this.larvalHead * 2 > order.length) {
      this.larvalOrder = order.slice(this.larvalHead);
      this.larvalHead = 0;
    }
  }
}
