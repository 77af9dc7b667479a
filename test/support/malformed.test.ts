import { describe, expect, it } from 'vitest';
import { MAX_EXT_HEADERS, MAX_PACKET_BYTES, Reason } from '../../assembly/layout.js';
import { LarvalError } from '../../src/common/errors.js';
import { Ipv4Packet } from '../../src/wire/ipv4.js';
import { Ipv6Packet, walkIpv6Chain } from '../../src/wire/ipv6.js';
import {
  CONTRACT_MAX_EXT_HEADERS, CONTRACT_MAX_WIRE_LENGTH, MALFORMED_REASONS, classifyPacket, handLabelledCases, handLabelledValid,
  malformedCorpus, randomCorruptions, validSeeds,
} from './malformed.js';

describe('the labeller agrees with the hand labels', () => {
  it.each(handLabelledCases().map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(classifyPacket(c.bytes, c.wireLength)).toBe(c.reason);
  });

  it('the hand-labelled cases cover every malformed reason', () => {
    const seen = new Set(handLabelledCases().map((c) => c.reason));
    expect([...MALFORMED_REASONS].filter((r) => !seen.has(r))).toEqual([]);
    expect(handLabelledCases().length).toBeGreaterThanOrEqual(25);
  });

  it.each(handLabelledValid().map((s) => [s.name, s] as const))('valid by hand: %s', (_name, s) => {
    expect(classifyPacket(s.bytes, s.wireLength)).toBe('valid');
  });
});

describe('valid seeds', () => {
  const seeds = validSeeds();

  it('are all valid, with unique names', () => {
    const invalid = seeds.map((s) => [s.name, classifyPacket(s.bytes, s.wireLength)]).filter(([, r]) => r !== 'valid');
    expect(invalid).toEqual([]);
    expect(new Set(seeds.map((s) => s.name)).size).toBe(seeds.length);
  });

  it('cover both families, every upper layer, extension headers, fragments and options', () => {
    const kinds = new Set<string>();
    for (const s of seeds) {
      if (s.wireLength !== undefined) {
        kinds.add('capture-truncated');
        continue;
      }
      // A TSO capture's total length 0 is valid for the engine but not for the strict view.
      if (s.bytes[0] >> 4 === 4 && s.bytes[2] === 0 && s.bytes[3] === 0) {
        kinds.add('v4/tso');
        continue;
      }
      if (s.bytes[0] >> 4 === 4) {
        const ip = Ipv4Packet.check(s.bytes);
        kinds.add(`v4/${ip.protocol}${ip.isNonFirstFragment ? '/non-first' : ''}`);
        if (ip.moreFragments && !ip.isNonFirstFragment) kinds.add('v4/first-fragment');
        if (ip.headerLength > 20) kinds.add('v4/options');
      } else {
        const chain = walkIpv6Chain(Ipv6Packet.check(s.bytes));
        kinds.add(`v6/${chain.protocol}${chain.nonFirstFragment ? '/non-first' : ''}`);
        for (const h of chain.headers) kinds.add(`v6/ext/${h.type}`);
      }
    }
    for (const proto of [6, 17, 132, 1, 50, 51, 47]) {
      expect(kinds).toContain(`v4/${proto}`);
      expect(kinds).toContain(`v4/${proto}/non-first`);
    }
    for (const proto of [6, 17, 132, 58, 50, 51, 89]) {
      expect(kinds).toContain(`v6/${proto}`);
      expect(kinds).toContain(`v6/${proto}/non-first`);
    }
    for (const k of ['v4/tso', 'v4/first-fragment', 'v4/options', 'v6/ext/0', 'v6/ext/43', 'v6/ext/44', 'v6/ext/60', 'v6/ext/135', 'capture-truncated']) {
      expect(kinds).toContain(k);
    }
  });
});

describe('malformed corpus', () => {
  const corpus = malformedCorpus();
  const byName = new Map(corpus.map((c) => [c.name, c]));

  it('has unique names and only malformed reasons', () => {
    expect(byName.size).toBe(corpus.length);
    for (const c of corpus) expect(MALFORMED_REASONS, c.name).toContain(c.reason);
  });

  it('labels every truncation of every seed that the contract rejects', () => {
    for (const seed of validSeeds()) {
      for (let n = 0; n < seed.bytes.length; n++) {
        const entry = byName.get(`${seed.name}: cut to ${n} bytes`);
        const expected = classifyPacket(seed.bytes.subarray(0, n));
        expect(entry?.reason ?? 'valid', `${seed.name} cut to ${n}`).toBe(expected);
      }
    }
  });

  it('labels truncations as the contract says, checked by hand on a few', () => {
    const reason = (name: string) => byName.get(name)?.reason ?? 'valid';
    // v4 tcp: 56 bytes, TCP at 20.
    expect(reason('v4 tcp: cut to 0 bytes')).toBe('truncated');
    expect(reason('v4 tcp: cut to 19 bytes')).toBe('truncated');
    expect(reason('v4 tcp: cut to 20 bytes')).toBe('bad-total-length');
    expect(reason('v4 tcp: 39 of 56 bytes captured')).toBe('l4-truncated');
    expect(reason('v4 tcp: 40 of 56 bytes captured')).toBe('valid');
    // v6 udp after hop-by-hop: 40 + 8 + 8 + 16 bytes.
    expect(reason('v6 udp after hop-by-hop: cut to 40 bytes')).toBe('bad-payload-length');
    expect(reason('v6 udp after hop-by-hop: 47 of 72 bytes captured')).toBe('ext-header-truncated');
    expect(reason('v6 udp after hop-by-hop: 55 of 72 bytes captured')).toBe('l4-truncated');
    expect(reason('v6 udp after hop-by-hop: 56 of 72 bytes captured')).toBe('valid');
    // A non-first fragment needs nothing after its IP header.
    expect(reason('v4 tcp non-first fragment: 20 of 36 bytes captured')).toBe('valid');
    expect(reason('v6 tcp non-first fragment: 47 of 64 bytes captured')).toBe('ext-header-truncated');
    // Capture-truncated seeds keep their wire length.
    expect(reason('capture-truncated v4 tcp: 54 of 1500 bytes, headers whole: 39 of 1500 bytes captured')).toBe('l4-truncated');
  });
});

describe('the contract as restated here matches the engine layout', () => {
  it('limits', () => {
    expect(CONTRACT_MAX_WIRE_LENGTH).toBe(MAX_PACKET_BYTES);
    expect(CONTRACT_MAX_EXT_HEADERS).toBe(MAX_EXT_HEADERS);
  });

  it('every malformed reason name is a Reason member', () => {
    for (const name of MALFORMED_REASONS) {
      const member = name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      expect(Reason[member as keyof typeof Reason], name).toBeGreaterThanOrEqual(16);
    }
  });
});

describe('random corruptions', () => {
  it('are reproducible from the seed and differ between seeds', () => {
    const a = randomCorruptions(42, 200);
    expect(a.length).toBe(200);
    expect(randomCorruptions(42, 200)).toEqual(a);
    expect(randomCorruptions(43, 200)).not.toEqual(a);
  });

  it('reach many outcomes, and neither the labeller nor the wire views crash on them', () => {
    const outcomes = new Set<string>();
    for (const bytes of randomCorruptions(7, 3000)) {
      outcomes.add(classifyPacket(bytes));
      for (const view of [Ipv4Packet.check, Ipv6Packet.check]) {
        try {
          const packet = view(bytes);
          if (packet instanceof Ipv6Packet) walkIpv6Chain(packet);
        } catch (e) {
          expect(e).toBeInstanceOf(LarvalError);
        }
      }
    }
    expect(outcomes.size).toBeGreaterThanOrEqual(10);
  });
});
