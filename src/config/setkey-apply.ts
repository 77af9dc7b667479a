// A parsed setkey(8) Config replayed on an engine, statement by statement, as
// setkey sends them to the kernel.

import { formatAddress, parseAddress } from '../common/addr.js';
import { LarvalError } from '../common/errors.js';
import { ConfigError } from './config-error.js';
import { normalizePolicy } from '../engine/validate.js';
import { dumpedSelectorKey, policySpec, saSpec, selectorKey, type Config, type ConfigOperation, type ConfigTarget } from './setkey-types.js';

export function applyConfig(engine: ConfigTarget, config: Config, now?: number): { policyIds: number[]; saIds: number[] } {
  const file = config.file;
  const policies: { id: number }[] = [];
  const sas: { id: number }[] = [];
  const fail = (op: ConfigOperation, err: unknown): never => {
    if (err instanceof LarvalError && !(err instanceof ConfigError)) {
      throw new ConfigError(`${op.op}: ${err.message}`, op, file, { code: err.code, field: err.field });
    }
    throw err;
  };
  const untrackSa = (id: number) => {
    const i = sas.findIndex((s) => s.id === id);
    if (i >= 0) sas.splice(i, 1);
  };
  const untrackPolicy = (id: number) => {
    const i = policies.findIndex((p) => p.id === id);
    if (i >= 0) policies.splice(i, 1);
  };
  for (const op of config.operations) {
    try {
      switch (op.op) {
        case 'add':
          sas.push({ id: engine.addSA(saSpec(op.sa), now) });
          break;
        case 'update': {
          const dst = canonicalAddress(op.sa.dst);
          const old = engine.dump().sas.find((s) => s.spi === op.sa.spi && s.dst === dst && s.proto === (op.sa.proto ?? 'esp'));
          if (!old) {
            throw new ConfigError(`update: no ${op.sa.proto ?? 'esp'} SA with SPI 0x${op.sa.spi.toString(16)} to ${dst} to update (use add)`, op, file, { code: 'ENOENT', field: 'spi' });
          }
          engine.removeSA(old.id);
          untrackSa(old.id);
          sas.push({ id: engine.addSA(saSpec(op.sa), now) });
          break;
        }
        case 'delete': {
          const dst = canonicalAddress(op.dst);
          const old = engine.dump().sas.find((s) => s.spi === op.spi && s.dst === dst && s.proto === op.proto);
          if (!old) throw new ConfigError(`delete: no ${op.proto} SA with SPI 0x${op.spi.toString(16)} to ${dst}`, op, file, { code: 'ENOENT', field: 'spi' });
          engine.removeSA(old.id);
          untrackSa(old.id);
          break;
        }
        case 'deleteall': {
          const src = canonicalAddress(op.src);
          const dst = canonicalAddress(op.dst);
          for (const s of engine.dump().sas) {
            if (s.src === src && s.dst === dst && s.proto === op.proto) {
              engine.removeSA(s.id);
              untrackSa(s.id);
            }
          }
          break;
        }
        case 'flush':
          for (const s of engine.dump().sas) {
            if (!op.proto || s.proto === op.proto) {
              engine.removeSA(s.id);
              untrackSa(s.id);
            }
          }
          break;
        case 'spdadd':
        case 'spdupdate': {
          const spec = policySpec(op.policy);
          const key = selectorKey(normalizePolicy(spec));
          const old = engine.dump().policies.find((p) => dumpedSelectorKey(p) === key);
          if (old) {
            if (op.op === 'spdadd') {
              throw new ConfigError(`spdadd: policy ${old.id} has the same selector and direction (use spdupdate to replace it)`, op, file, { code: 'EEXIST' });
            }
            engine.removePolicy(old.id);
            untrackPolicy(old.id);
          }
          policies.push({ id: engine.addPolicy(spec) });
          break;
        }
        case 'spddelete': {
          const { line: _l, column: _c, ...sel } = op.selector;
          const key = selectorKey(normalizePolicy({ ...sel, action: 'bypass' }));
          const old = engine.dump().policies.find((p) => dumpedSelectorKey(p) === key);
          if (!old) throw new ConfigError(`spddelete: no ${sel.dir} policy with this selector`, op, file, { code: 'ENOENT' });
          engine.removePolicy(old.id);
          untrackPolicy(old.id);
          break;
        }
        case 'spdflush':
          for (const p of engine.dump().policies) {
            engine.removePolicy(p.id);
            untrackPolicy(p.id);
          }
          break;
      }
    } catch (err) {
      fail(op, err);
    }
  }
  return { policyIds: policies.map((p) => p.id), saIds: sas.map((s) => s.id) };
}

function canonicalAddress(text: string): string {
  const a = parseAddress(text, 'address');
  return formatAddress(a.family, a.words);
}
