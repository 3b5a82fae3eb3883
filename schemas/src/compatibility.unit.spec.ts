import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../scripts/compatibility';
import { checkCompatibility, formatIncompatibility, loadReleased, readProblems, unreleased } from './compatibility';
import { loadSchemaFiles } from './load';

const ROOT = join(__dirname, '../..');
const record = (...fields: object[]) => ({ type: 'record', name: 'AmountSet', namespace: 'test', fields });
const id = { name: 'id', type: 'string' };

describe('reading an event written with a released schema (BACKWARD)', () => {
  it('works when a field is added with a default', () => {
    expect(readProblems(record(id, { name: 'note', type: ['null', 'string'], default: null }), record(id))).toEqual([]);
  });

  it('fails when a field is added without a default, naming the field', () => {
    expect(readProblems(record(id, { name: 'note', type: 'string' }), record(id))).toEqual([
      { field: 'note', reason: 'added without a default, so an event written without it cannot be read' },
    ]);
  });

  it('works when a field is removed, or widened from int to long', () => {
    expect(readProblems(record(id), record(id, { name: 'note', type: 'string' }))).toEqual([]);
    expect(readProblems(record(id, { name: 'n', type: 'long' }), record(id, { name: 'n', type: 'int' }))).toEqual([]);
  });

  it('fails when a field is narrowed or changes type, naming the field and both types', () => {
    expect(readProblems(record(id, { name: 'n', type: 'int' }), record(id, { name: 'n', type: 'long' }))).toEqual([
      { field: 'n', reason: 'changed type from long to int, which Avro cannot resolve' },
    ]);
    expect(readProblems(record(id, { name: 'n', type: 'string' }), record(id, { name: 'n', type: 'long' }))[0]?.field).toBe('n');
  });

  it('fails when an enum loses a symbol that released events may carry', () => {
    const kind = (symbols: string[]) => ({ name: 'kind', type: { type: 'enum', name: 'Kind', symbols } });
    expect(readProblems(record(id, kind(['A'])), record(id, kind(['A', 'B'])))[0]).toMatchObject({ field: 'kind' });
  });

  it('follows a rename through the field aliases', () => {
    expect(readProblems(record({ name: 'key', type: 'string', aliases: ['id'] }), record(id))).toEqual([]);
  });
});

describe("the repository's schemas", () => {
  const current = loadSchemaFiles(join(ROOT, 'schemas/avro'));
  const released = loadReleased(join(ROOT, 'schemas/released'));

  it('read every released version, and every current schema is released', () => {
    expect(released.length).toBeGreaterThanOrEqual(current.length);
    expect(checkCompatibility(current, released).map(formatIncompatibility)).toEqual([]);
    expect(unreleased(current, released)).toEqual([]);
  });
});

describe('the gate (compatibility.js check) on a copy of the repository', () => {
  let root: string;
  const lines: string[] = [];
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-schemas-'));
    cpSync(join(ROOT, 'schemas/avro'), join(root, 'schemas/avro'), { recursive: true });
    cpSync(join(ROOT, 'schemas/released'), join(root, 'schemas/released'), { recursive: true });
    lines.length = 0;
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const edit = (name: string, change: (schema: { fields: object[] }) => void) => {
    const file = join(root, 'schemas/avro/wallet', `${name}.avsc`);
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { fields: object[] };
    change(schema);
    writeFileSync(file, JSON.stringify(schema));
  };

  it('passes on main', () => {
    expect(run('check', root, (l) => lines.push(l))).toBe(0);
  });

  it('fails on a field added without a default, and names it', () => {
    edit('FundsDeposited', (s) => s.fields.push({ name: 'channel', type: 'string' }));
    expect(run('check', root, (l) => lines.push(l))).toBe(1);
    expect(lines.join('\n')).toContain(
      'wallet/FundsDeposited field "channel": added without a default, so an event written without it cannot be read (released v1)',
    );
  });

  it('checks against every released version, not only the newest (transitive)', () => {
    // Valid against v2 (which has owner), not against v1 (which has not): owner without its default.
    edit('WalletOpened', (s) => {
      s.fields = s.fields.map((f) => ((f as { name: string }).name === 'owner' ? { name: 'owner', type: 'string' } : f));
    });
    expect(run('check', root, (l) => lines.push(l))).toBe(1);
    expect(lines.join('\n')).toContain('wallet/WalletOpened field "owner"');
    expect(lines.join('\n')).toContain('(released v1)');
  });

  it('passes a breaking change made as a new event type beside the released one, which stays readable', () => {
    // FundsDeposited's amount as a decimal string would break v1 readers in place; as a new record it does not.
    edit('FundsDeposited', (s) => s.fields.push({ name: 'amountDecimal', type: 'string' }));
    expect(run('check', root, (l) => lines.push(l))).toBe(1);
    const next = JSON.parse(readFileSync(join(ROOT, 'schemas/avro/wallet/FundsDeposited.avsc'), 'utf8')) as {
      name: string;
      fields: { name: string }[];
    };
    writeFileSync(join(root, 'schemas/avro/wallet/FundsDeposited.avsc'), JSON.stringify(next));
    next.name = 'FundsDepositedV2';
    next.fields = next.fields.map((f) => (f.name === 'amount' ? { name: 'amount', type: 'string' } : f));
    writeFileSync(join(root, 'schemas/avro/wallet/FundsDepositedV2.avsc'), JSON.stringify(next));
    lines.length = 0;
    expect(run('check', root, (l) => lines.push(l))).toBe(0);
    expect(lines).toContain('  wallet/FundsDepositedV2 would be released as v1');
  });

  it('fails when a released event type is deleted', () => {
    rmSync(join(root, 'schemas/avro/wallet/WithdrawalFailed.avsc'));
    expect(run('check', root, (l) => lines.push(l))).toBe(1);
    expect(lines.join('\n')).toContain('wallet/WithdrawalFailed: was released and is gone');
  });

  it('releases a compatible change as the next version, and a new event type as its v1', () => {
    edit('FundsDeposited', (s) => s.fields.push({ name: 'channel', type: ['null', 'string'], default: null }));
    writeFileSync(
      join(root, 'schemas/avro/wallet/WalletClosed.avsc'),
      JSON.stringify({ type: 'record', name: 'WalletClosed', namespace: 'dev.sluice.wallet', fields: [id] }),
    );
    expect(run('release', root, (l) => lines.push(l))).toBe(0);
    expect(lines).toEqual(['schemas: released wallet/FundsDeposited v2', 'schemas: released wallet/WalletClosed v1']);
    lines.length = 0;
    expect(run('check', root, (l) => lines.push(l))).toBe(0);
    expect(run('release', root, (l) => lines.push(l))).toBe(0);
    expect(lines.at(-1)).toBe('schemas: nothing changed since the last release');
  });
});
