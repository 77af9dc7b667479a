// Issue 18: the page's replay core, run in Node on the page's platform (the wasm
// from bytes, unsealed ESP): the same --json bytes as the CLI on the example, and
// the unsealed ESP adapter takes the ESP stage's decisions exactly as node:crypto's.
// (This file sets the page's platform for its own worker only.)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Reason } from '../../assembly/layout.js';
import { replayInPage, usePageEngine } from '../../src/page/replay-page.js';
import { enginePlatform } from '../../src/engine/platform.js';
import { nodeEspCrypto } from '../../src/esp/node-crypto.js';
import { unsealedEspCrypto, UNSEALED } from '../../src/esp/unsealed.js';
import { buildPacket } from '../../src/wire/build.js';
import type { EspFraming, EspKeysSpec } from '../../src/esp/keys.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('the page core in Node (issue 18)', () => {
  it('replays the example to the CLI --json bytes, on the unsealed platform', async () => {
    usePageEngine(readFileSync(path.join(root, 'build/larval.wasm')));
    expect(enginePlatform().esp.name).toBe('unsealed');
    const cli = execFileSync(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'replay', 'examples/gateway.pcap', '--config', 'examples/gateway.conf', '--km-delay', '50ms', '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    const page = await replayInPage({
      capture: readFileSync(path.join(root, 'examples/gateway.pcap')), captureName: 'examples/gateway.pcap',
      configText: readFileSync(path.join(root, 'examples/gateway.conf'), 'utf8'), configName: 'examples/gateway.conf', kmDelay: 50, msl: 30_000,
    });
    expect(page.json === cli).toBe(true);
    expect(page.unverifiedEsp).toBe(0);
  });

  const framing = (mode: 'tunnel' | 'transport', family: 4 | 6 = 4): EspFraming => ({ spi: 0x1234, mode, family, src: new Uint8Array(family === 4 ? 4 : 16).fill(1), dst: new Uint8Array(family === 4 ? 4 : 16).fill(2), esn: false });
  const KEYS: EspKeysSpec[] = [
    { encryption: { algorithm: 'aes-gcm-16', key: '00'.repeat(20) } },
    { encryption: { algorithm: 'aes-cbc', key: '00'.repeat(16) }, integrity: { algorithm: 'hmac-sha256-128', key: '00'.repeat(32) }, encap: {} },
  ];

  it('decides encapsulation as node:crypto does: sizes at the limit, fragments in transport mode (R23)', () => {
    const packets = [
      buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', srcPort: 1, dstPort: 2 }, { payloadLength: 100 }),
      buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', srcPort: 1, dstPort: 2 }, { payloadLength: 65_400 }),
      buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', srcPort: 1, dstPort: 2 }, { payloadLength: 65_507 }),
    ];
    const fragment = Uint8Array.from(packets[0]);
    fragment[6] |= 0x20; // MF
    packets.push(fragment);
    let refused = 0;
    for (const keys of KEYS) {
      for (const mode of ['tunnel', 'transport'] as const) {
        const n = nodeEspCrypto.createSa(framing(mode), keys, 'esp')!;
        const u = unsealedEspCrypto.createSa(framing(mode), keys, 'esp')!;
        expect(u.info()).toEqual(n.info());
        for (const p of packets) {
          const a = nodeEspCrypto.encrypt(n, p, 1n);
          const b = unsealedEspCrypto.encrypt(u, p, 1n);
          expect(typeof b === 'number' ? b : 'sealed').toBe(typeof a === 'number' ? a : 'sealed');
          if (typeof a === 'number') refused++;
          else expect(b).toBe(UNSEALED);
        }
      }
    }
    expect(refused).toBeGreaterThan(2);
  });

  it('refuses the same keys with the same errors, and has no keys where Node has none', () => {
    const bad: EspKeysSpec[] = [{ encryption: { algorithm: 'aes-gcm-16', key: '00'.repeat(19) } }, { encryption: { algorithm: 'aes-cbc', key: '00'.repeat(16) } }, {}];
    for (const k of bad) {
      let a: unknown;
      let b: unknown;
      try {
        a = nodeEspCrypto.createSa(framing('tunnel'), k, 'esp');
      } catch (e) {
        a = (e as Error).message;
      }
      try {
        b = unsealedEspCrypto.createSa(framing('tunnel'), k, 'esp');
      } catch (e) {
        b = (e as Error).message;
      }
      expect(typeof b === 'string' || b === null ? b : 'sa').toEqual(typeof a === 'string' || a === null ? a : 'sa');
    }
  });

  it('cannot verify inbound ESP: a counted no-keys drop', () => {
    const u = unsealedEspCrypto.createSa(framing('tunnel'), KEYS[0], 'esp')!;
    expect(unsealedEspCrypto.decrypt(u, new Uint8Array(80), 20, 1n)).toBe(Reason.NoKeys);
  });
});
