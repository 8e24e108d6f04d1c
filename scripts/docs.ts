// `npm run docs`: writes the generated references, docs/configuration.md (from the configuration
// schema) and docs/cli.md (from the commands' --help).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cliReference } from './cliReference.ts';
import { configurationReference } from './configReference.ts';

const DOCS = fileURLToPath(new URL('../docs/', import.meta.url));

writeFileSync(`${DOCS}configuration.md`, configurationReference());
writeFileSync(`${DOCS}cli.md`, cliReference());
process.stdout.write('wrote docs/configuration.md and docs/cli.md\n');
