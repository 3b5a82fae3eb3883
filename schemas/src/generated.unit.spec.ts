import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { generate } from './codegen';
import { allCatalogs, fullName, walletCommandsCatalog } from './index';
import { loadSchemaFiles } from './load';

const root = join(__dirname, '..');

describe('schemas', () => {
  it('generated.ts is what `make schemas` makes from the .avsc files (regenerate after editing a schema)', () => {
    const expected = generate(loadSchemaFiles(join(root, 'avro')));
    expect(readFileSync(join(root, 'src/generated.ts'), 'utf8')).toBe(expected);
  });

  it('every schema is valid Avro and named after its record', () => {
    for (const catalog of [...allCatalogs, walletCommandsCatalog]) {
      for (const [type, schema] of Object.entries(catalog.schemas)) {
        expect(schema.name).toBe(type);
        expect(() => avro.Type.forSchema(schema as avro.Schema)).not.toThrow();
        expect(fullName(schema)).toMatch(/^dev\.sluice\./);
      }
    }
  });
});
