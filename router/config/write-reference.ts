// `npm run docs:router-config`: writes docs/router-config-reference.md from the
// schema. Run from the compiled tree (dist/router/config/), so the repository
// root is three folders up.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from './reference.js';

const target = fileURLToPath(new URL('../../../docs/router-config-reference.md', import.meta.url));
writeFileSync(target, renderConfigReference());
process.stdout.write(`wrote ${target}\n`);
